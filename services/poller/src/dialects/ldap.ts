import type { Dialect } from '../directory/dialect.ts';
import { createSyncreplDelta } from '../directory/delta-syncrepl.ts';
import { createTimestampDelta } from '../directory/delta-timestamp.ts';
import { escapeFilterValue, nameAndOptionalUidDn } from '../directory/dn.ts';
import { stringValues } from '../directory/entry.ts';

/** Generic LDAPv3: everything standard, the timestamp delta only. */
export function createLdapDialect(overrides: Partial<Dialect> = {}): Dialect {
  return {
    name: 'ldap',
    defaultUserFilter: '(|(objectClass=inetOrgPerson)(objectClass=posixAccount))',
    defaultGroupFilter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
    // Binary syntaxes of the standard schemas: read as bytes (carried base64), never decoded as UTF-8.
    binaryAttributes: ['jpegPhoto', 'photo', 'audio', 'userCertificate', 'userCertificate;binary', 'userSMIMECertificate', 'userPKCS12'],
    extraUserAttributes: [],
    extraGroupAttributes: [],
    defaultDelta: 'timestamp',
    supportedDeltas: ['none', 'timestamp', 'syncrepl'],
    normaliseId(value) {
      return (typeof value === 'string' ? value : value.toString('hex')).trim().toLowerCase();
    },
    idFilter(attribute, externalId) {
      return `(${attribute}=${escapeFilterValue(externalId)})`;
    },
    disabledFilter(profileFilter) {
      return profileFilter ?? null;
    },
    async readMembers(entry, mapping) {
      const dns: string[] = [];
      const loginNames: string[] = [];
      for (const attribute of mapping.memberAttributes) {
        if (attribute === 'memberUid') for (const v of stringValues(entry, attribute)) loginNames.push(v);
        else if (attribute.toLowerCase() === 'uniquemember')
          for (const v of stringValues(entry, attribute)) dns.push(nameAndOptionalUidDn(v));
        else for (const v of stringValues(entry, attribute)) dns.push(v);
      }
      return { dns, loginNames };
    },
    createDelta(kind, context) {
      if (kind === 'timestamp') return createTimestampDelta(context.modifiedAttribute);
      // RFC 4533 names entries by entryUUID: the re-read asks for that attribute whatever the mapping.
      if (kind === 'syncrepl') {
        return createSyncreplDelta({
          bases: [context.usersBaseDn, ...(context.groupsBaseDn === null ? [] : [context.groupsBaseDn])],
          idFilter: (id) => `(entryUUID=${escapeFilterValue(id)})`,
        });
      }
      return null;
    },
    ...overrides,
  };
}
