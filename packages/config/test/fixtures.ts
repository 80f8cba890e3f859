import { stringify } from 'yaml';

/** A secret value no message, masked output or log line may ever contain. */
export const SECRET = 'S3cr3t-hunter2-do-not-print';

export const PROFILE_ID = '6f1c3a52-4a8e-4b7b-9a51-0f0d2f0e9c11';
export const OTHER_PROFILE_ID = '0b6a3e2f-8d4c-4e71-9f3a-2c5d7e9a1b40';

/** A minimal valid configuration as plain data; tests change one thing and stringify it. */
export function validRaw(): Record<string, unknown> {
  return {
    kafka: { brokers: ['127.0.0.1:39092'] },
    database: { url: 'postgres://postgres@127.0.0.1:5432/postgres' },
    profiles: [
      {
        id: PROFILE_ID,
        name: 'corp-ldap',
        directory: 'openldap',
        connection: {
          urls: ['ldap://127.0.0.1:38389'],
          bindDn: 'cn=admin,dc=dirstream,dc=test',
          bindPassword: { env: 'LDAP_BIND_PASSWORD' },
        },
        users: { baseDn: 'ou=people,dc=dirstream,dc=test' },
        groups: { baseDn: 'ou=groups,dc=dirstream,dc=test' },
      },
    ],
  };
}

export const VALID_ENV = { LDAP_BIND_PASSWORD: SECRET } as const;

export function toYaml(data: unknown): string {
  return stringify(data);
}

/** The element at a key path in plain data, for tests that edit one key. */
export function edit(data: Record<string, unknown>, path: readonly (string | number)[], value: unknown): Record<string, unknown> {
  let node: Record<string | number, unknown> = data;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return data;
}
