import { formatKeyPath } from './issues.ts';
import type { DirstreamConfig } from './types.ts';

/** Something legal but risky in a valid configuration; printed by `config check`, logged at start. */
export type ConfigWarning = { readonly path: string; readonly message: string };

function hasUrlPassword(url: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*:[^/?#@]+@/.test(url);
}

export function configWarnings(config: DirstreamConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const warn = (path: readonly PropertyKey[], message: string): void => {
    warnings.push({ path: formatKeyPath(path), message });
  };
  if (hasUrlPassword(config.database.url)) {
    warn(['database', 'url'], 'holds a password: move it to database.password ({ env } or { file })');
  }
  config.profiles.forEach((profile, index) => {
    const { connection } = profile;
    if (!connection.startTls) {
      connection.urls.forEach((url, urlIndex) => {
        if (url.toLowerCase().startsWith('ldap://')) {
          warn(['profiles', index, 'connection', 'urls', urlIndex], 'plain ldap:// without startTls sends the bind password unencrypted');
        }
      });
    }
    if (!connection.tls.rejectUnauthorized) {
      warn(['profiles', index, 'connection', 'tls', 'rejectUnauthorized'], 'certificate verification is off');
    }
    if (profile.policies.allowMassDisable) {
      warn(['profiles', index, 'policies', 'allowMassDisable'], 'the disable thresholds never stop a run');
    }
  });
  return warnings;
}
