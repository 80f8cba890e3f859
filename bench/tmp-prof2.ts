import { loadConfigFromText } from '@dirstream/config';
import { createLogger } from '@dirstream/logging';
import { runPoller } from '@dirstream/poller';
import { destination } from 'pino';
const BASE = 'ou=sample,dc=dirstream,dc=test';
const raw = {
  kafka: { brokers: ['127.0.0.1:39092'], topicPrefix: 'pt-prof', partitions: 6 },
  database: { url: 'postgres://postgres@127.0.0.1:5432/pt_prof', poolSize: 4 },
  profiles: [{ id: '11111111-2222-4333-8444-555555555555', name: 'prof', directory: 'openldap',
    connection: { urls: ['ldap://127.0.0.1:38600'], bindDn: 'cn=admin,dc=dirstream,dc=test', bindPassword: { env: 'PW' }, pageSize: 500 },
    users: { baseDn: `ou=people,${BASE}`, disabledFilter: '(employeeType=inactive)' }, groups: { baseDn: `ou=groups,${BASE}` },
    policies: { maxDisableCount: 1000000, maxDisablePercent: 100 } }],
};
const config = await loadConfigFromText(JSON.stringify(raw), { sourceName: 'p.yaml', env: { PW: 'dirstream-admin' } });
const logger = createLogger({ name: 'prof', level: 'info', destination: destination({ fd: 2, sync: true }) });
const r = await runPoller({ config, logger, signal: new AbortController().signal }, { once: true, full: true, allowMassDisable: true });
console.log(JSON.stringify(r));
