export { createTestDatabase, type TestDatabase } from './database.ts';
export { INFRA_FILE, type Infra, loadInfra } from './infra.ts';
export { createKafka, deleteTopics, type ReadRecord, readTopics } from './kafka.ts';
export { createLdapSubtree, type LdapSubtree } from './ldap.ts';
export { uniquePrefix } from './unique.ts';
