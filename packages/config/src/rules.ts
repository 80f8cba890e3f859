import type { ConfigIssue } from './issues.ts';
import { isPasswordAttribute, ldapFilterProblem } from './ldap-filter.ts';
import type { RawConfig } from './schema.ts';

/** Which directory types each differential mechanism works with (`auto`, `none`, `timestamp`: any). */
const DELTA_DIRECTORIES: Readonly<Record<string, readonly string[]>> = {
  usn: ['active-directory'],
  dirsync: ['active-directory'],
  accesslog: ['openldap'],
  syncrepl: ['openldap', 'ldap'],
};

/** Rules that span several keys and so cannot live in the zod schema of one key. */
export function checkConfigRules(config: RawConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const idsSeen = new Map<string, number>();
  const namesSeen = new Map<string, number>();

  const { minInsyncReplicas, replicationFactor } = config.kafka;
  if (minInsyncReplicas !== undefined && minInsyncReplicas > replicationFactor) {
    issues.push({
      path: ['kafka', 'minInsyncReplicas'],
      message: `must not exceed kafka.replicationFactor (${replicationFactor}): every write would fail with NOT_ENOUGH_REPLICAS`,
    });
  }

  config.profiles.forEach((profile, index) => {
    // Profile IDs are compared case-insensitively: they are UUIDs and end up in Kafka keys.
    const id = profile.id.toLowerCase();
    const firstId = idsSeen.get(id);
    if (firstId === undefined) idsSeen.set(id, index);
    else issues.push({ path: ['profiles', index, 'id'], message: `duplicate profile id (already used by profiles[${firstId}])` });

    const firstName = namesSeen.get(profile.name);
    if (firstName === undefined) namesSeen.set(profile.name, index);
    else issues.push({ path: ['profiles', index, 'name'], message: `duplicate profile name (already used by profiles[${firstName}])` });

    const allowed = DELTA_DIRECTORIES[profile.schedule.delta];
    if (allowed !== undefined && !allowed.includes(profile.directory)) {
      issues.push({
        path: ['profiles', index, 'schedule', 'delta'],
        message: `delta "${profile.schedule.delta}" works only with directory ${allowed.map((d) => `"${d}"`).join(' or ')}, not "${profile.directory}"`,
      });
    }

    if (profile.connection.startTls) {
      profile.connection.urls.forEach((url, urlIndex) => {
        if (url.toLowerCase().startsWith('ldaps://')) {
          issues.push({
            path: ['profiles', index, 'connection', 'urls', urlIndex],
            message: 'startTls is true but this URL is ldaps:// (already TLS): use ldap:// with startTls, or ldaps:// without it',
          });
        }
      });
    }

    const filters: [readonly (string | number)[], string | undefined][] = [
      [['users', 'filter'], profile.users.filter],
      [['users', 'disabledFilter'], profile.users.disabledFilter],
      [['groups', 'filter'], profile.groups?.filter],
    ];
    for (const [key, filter] of filters) {
      const problem = filter === undefined ? null : ldapFilterProblem(filter);
      if (problem !== null) issues.push({ path: ['profiles', index, ...key], message: `not a valid LDAP filter (RFC 4515): ${problem}` });
    }

    // Credentials never travel in events (DESIGN invariant 10), whatever the mapping key.
    const { extra, ...named } = profile.users.attributes;
    for (const [key, attribute] of [
      ...Object.entries(named).map(([k, v]) => [[k], v] as const),
      ...Object.entries(extra).map(([k, v]) => [['extra', k], v] as const),
    ]) {
      if (typeof attribute === 'string' && isPasswordAttribute(attribute)) {
        issues.push({
          path: ['profiles', index, 'users', 'attributes', ...key],
          message: `${attribute} holds credentials: password attributes are never synchronised (remove this mapping)`,
        });
      }
    }

    if (profile.policies.onlyGroupMembers && profile.groups === undefined) {
      issues.push({
        path: ['profiles', index, 'policies', 'onlyGroupMembers'],
        message: 'onlyGroupMembers needs a groups section (no groups are synchronised)',
      });
    }
  });
  return issues;
}
