import { existsSync, writeFileSync } from 'node:fs';
import { run } from './process.ts';

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
let updated = false;

async function missingPackages(packages: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of packages) {
    try {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
      const { stdout } = await run('dpkg-query', ['-W', '-f=${Status}', name]);
      if (!stdout.includes('install ok installed')) missing.push(name);
    } catch {
      missing.push(name);
    }
  }
  return missing;
}

/**
 * Installs Debian packages that are missing. Debian's own services must not start (a system
 * slapd on 389 would block Samba), hence the policy-rc.d that refuses every start.
 */
export async function ensureAptPackages(packages: readonly string[], log: (line: string) => void = () => {}): Promise<void> {
  const missing = await missingPackages(packages);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages ${missing.join(', ')}: run as root or install them with apt-get`);
  }
  if (!existsSync(POLICY_RC_D))
    writeFileSync(POLICY_RC_D, '#!/bin/sh\n# dirstream: never start Debian services on install\nexit 101\n', { mode: 0o755 });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing Debian packages: ${missing.join(' ')}`);
  if (!updated) {
    await run('apt-get', ['update', '-qq'], { env });
    updated = true;
  }
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}
