import type { ConfigIssue } from './issues.ts';
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

    if (profile.policies.onlyGroupMembers && profile.groups === undefined) {
      issues.push({
        path: ['profiles', index, 'policies', 'onlyGroupMembers'],
        message: 'onlyGroupMembers needs a groups section (no groups are synchronised)',
      });
    }
  });
  return issues;
}
