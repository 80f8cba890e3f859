import { createError } from '@dirstream/errors';
import type { DirectoryType } from '@dirstream/events';
import type { Dialect } from '../directory/dialect.ts';
import { createActiveDirectoryDialect } from './active-directory.ts';
import { createLdapDialect } from './ldap.ts';
import { createOpenLdapDialect } from './openldap.ts';

/** Dialect factories by directory type; `active-directory` registers here when it lands. */
const DIALECTS: Partial<Record<DirectoryType, () => Dialect>> = {
  'active-directory': () => createActiveDirectoryDialect(),
  openldap: createOpenLdapDialect,
  ldap: () => createLdapDialect(),
};

export function dialectFor(type: DirectoryType): Dialect {
  const create = DIALECTS[type];
  if (!create) {
    throw createError('DIRECTORY_TYPE_UNSUPPORTED', `directory type ${type} is not supported by this poller yet`, {
      retriable: false,
    });
  }
  return create();
}
