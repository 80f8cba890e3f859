/**
 * A private slapd on a free loopback port, loaded offline (slapadd) with a sample directory: a
 * directory a test may kill mid-page or fill with thousands of entries without touching others.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Infra, loadInfra } from '@dirstream/testing';
import { createSlapd, type SlapdInstance, slapdInstance, slapdPid, startSlapd, stopSlapd } from '../../infra/local/openldap.ts';
import { type SampleOptions, writeSampleLdif } from '../../infra/sample/generate.ts';

export const SUFFIX = 'dc=dirstream,dc=test';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;

export type PrivateDirectory = {
  readonly instance: SlapdInstance;
  /** The shared infra with `openldap` pointing at this slapd. */
  readonly infra: Infra;
  readonly users: number;
  /** kill -9 slapd (mid-page when a search runs). */
  kill(): void;
  start(): Promise<void>;
  cleanup(): Promise<void>;
};

/** A private slapd on a free loopback port, loaded offline (slapadd) with a sample directory. */
export async function createPrivateDirectory(label: string, sample: Partial<SampleOptions>): Promise<PrivateDirectory> {
  const dir = await mkdtemp(join(tmpdir(), `dirstream-${label}-slapd-`));
  const instance = slapdInstance({ dir: join(dir, 'slapd'), port: await freePort() });
  const ldif = join(dir, 'sample.ldif');
  const options: SampleOptions = {
    seed: 7,
    users: 3_000,
    groups: 60,
    largeGroups: 0,
    largeGroupSize: 0,
    baseDn: SUFFIX,
    includeBase: false,
    disabledShare: 0.03,
    ...sample,
  };
  await writeSampleLdif(ldif, options);
  await createSlapd(instance, [ldif]);
  await startSlapd(instance);
  const shared = loadInfra();
  return {
    instance,
    infra: {
      ...shared,
      openldap: { ...shared.openldap, url: instance.url, adminDn: instance.adminDn, adminPassword: instance.adminPassword },
    },
    users: options.users,
    kill() {
      const pid = Number(readFileSync(slapdPid(instance), 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
    },
    start: () => startSlapd(instance),
    async cleanup() {
      await stopSlapd(instance).catch(() => false);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
