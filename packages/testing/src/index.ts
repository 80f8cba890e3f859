export { createTestDatabase, type TestDatabase } from './database.ts';
export { freePort } from './free-port.ts';
export { INFRA_FILE, type Infra, loadInfra } from './infra.ts';
export { createKafka, deleteTopics, type ReadRecord, readTopics } from './kafka.ts';
export { createLdapSubtree, type LdapSubtree } from './ldap.ts';
export { type AdOu, adminClient, createAdOu, loadSamba, type SambaEndpoints } from './samba.ts';
export { uniquePrefix } from './unique.ts';
export { until } from './until.ts';
