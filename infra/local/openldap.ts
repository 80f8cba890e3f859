import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { DEFAULT_SAMPLE, writeSampleLdif } from '../sample/generate.ts';
import { ensureAptPackages } from './apt.ts';
import type { Component } from './component.ts';
import { STATE_DIR } from './paths.ts';
import { isRunning, run, startDaemon, stopDaemon, waitFor } from './process.ts';

export const OPENLDAP_PACKAGES = ['slapd', 'ldap-utils'] as const;

export type SlapdInstance = {
  readonly dir: string;
  readonly port: number;
  readonly suffix: string;
  readonly adminDn: string;
  readonly adminPassword: string;
  readonly url: string;
  /** Overlays of the main database (all on unless turned off): real servers often lack some. */
  readonly overlays: SlapdOverlays;
};

export type SlapdOverlays = { readonly accesslog: boolean; readonly syncprov: boolean; readonly refint: boolean };

export function slapdInstance(options: {
  dir: string;
  port: number;
  suffix?: string;
  adminPassword?: string;
  overlays?: Partial<SlapdOverlays>;
}): SlapdInstance {
  const suffix = options.suffix ?? 'dc=dirstream,dc=test';
  return {
    dir: options.dir,
    port: options.port,
    suffix,
    adminDn: `cn=admin,${suffix}`,
    adminPassword: options.adminPassword ?? 'dirstream-admin',
    url: `ldap://127.0.0.1:${options.port}`,
    overlays: { accesslog: true, syncprov: true, refint: true, ...options.overlays },
  };
}

/**
 * cn=config for a private slapd: mdb main database with syncprov (session log sourced from the
 * accesslog database, so deletes survive a restart), accesslog (reqEntryUUID for deletes) and
 * refint on member/uniqueMember (the server then rewrites group members on delete/rename without
 * touching the group's modifyTimestamp — the poller must cope with that, as in production).
 * `instance.overlays` turns overlays off, as on many real servers (no accesslog database then).
 */
export function configLdif(instance: SlapdInstance): string {
  const { dir, suffix, adminDn, adminPassword, overlays: on } = instance;
  const main = on.accesslog ? 2 : 1;
  const order = (['syncprov', 'accesslog', 'refint'] as const).filter((o) => on[o]);
  const at = (overlay: (typeof order)[number]) => order.indexOf(overlay);
  const accesslogDatabase = `dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: cn=accesslog
olcDbDirectory: ${dir}/accesslog
olcRootDN: ${adminDn}
olcDbMaxSize: 2147483648
olcDbNoSync: TRUE
olcDbIndex: default eq
olcDbIndex: objectClass,entryCSN,reqStart,reqType,reqEntryUUID,reqResult
olcAccess: to * by dn.exact="${adminDn}" read by * none
olcLimits: * size=unlimited size.pr=unlimited time=unlimited

dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
olcSpNoPresent: TRUE
olcSpReloadHint: TRUE

`;
  const syncprov = `dn: olcOverlay={${at('syncprov')}}syncprov,olcDatabase={${main}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {${at('syncprov')}}syncprov
olcSpCheckpoint: 100 10
${on.accesslog ? 'olcSpSessionlogSource: cn=accesslog' : 'olcSpSessionlog: 100000'}

`;
  const accesslog = `dn: olcOverlay={${at('accesslog')}}accesslog,olcDatabase={${main}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcAccessLogConfig
olcOverlay: {${at('accesslog')}}accesslog
olcAccessLogDB: cn=accesslog
olcAccessLogOps: writes
olcAccessLogSuccess: TRUE
olcAccessLogPurge: 07+00:00 01+00:00

`;
  const refint = `dn: olcOverlay={${at('refint')}}refint,olcDatabase={${main}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {${at('refint')}}refint
olcRefintAttribute: member
olcRefintAttribute: uniqueMember
olcRefintNothing: ${adminDn}

`;
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${dir}/slapd.pid
olcArgsFile: ${dir}/slapd.args
olcSizeLimit: unlimited
olcTimeLimit: unlimited

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
${order.map((o) => `olcModuleLoad: ${o}`).join('\n')}

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: cn=admin,cn=config
olcRootPW: ${adminPassword}

${on.accesslog ? accesslogDatabase : ''}dn: olcDatabase={${main}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {${main}}mdb
olcSuffix: ${suffix}
olcDbDirectory: ${dir}/data
olcRootDN: ${adminDn}
olcRootPW: ${adminPassword}
olcDbMaxSize: 8589934592
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: entryUUID,entryCSN eq
olcDbIndex: uid,mail,cn eq
olcDbIndex: member,uniqueMember,memberUid eq
olcDbIndex: modifyTimestamp eq
olcAccess: to attrs=userPassword by self write by anonymous auth by * none
olcAccess: to * by * read
olcLimits: * size=unlimited size.pr=unlimited time=unlimited

${on.syncprov ? syncprov : ''}${on.accesslog ? accesslog : ''}${on.refint ? refint : ''}`;
}

export const baseLdif = (instance: SlapdInstance): string => {
  const dc = /^dc=([^,]+)/i.exec(instance.suffix)?.[1] ?? 'dirstream';
  return `dn: ${instance.suffix}
objectClass: top
objectClass: dcObject
objectClass: organization
dc: ${dc}
o: dirstream

`;
};

export async function slapdAnswers(instance: SlapdInstance): Promise<boolean> {
  const client = new Client({ url: instance.url, connectTimeout: 1_000, timeout: 2_000 });
  try {
    await client.bind(instance.adminDn, instance.adminPassword);
    const { searchEntries } = await client.search(instance.suffix, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
    return searchEntries.length === 1;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => {});
  }
}

/**
 * Creates the instance's cn=config and an empty database holding only the suffix entry, plus
 * whatever `seedLdif` files hold (loaded offline with slapadd, which is fast). Replaces any
 * previous contents of `instance.dir`.
 */
export async function createSlapd(instance: SlapdInstance, seedLdif: readonly string[] = []): Promise<void> {
  await ensureAptPackages(OPENLDAP_PACKAGES);
  await stopSlapd(instance);
  rmSync(instance.dir, { recursive: true, force: true });
  for (const sub of ['slapd.d', 'data', 'accesslog']) mkdirSync(join(instance.dir, sub), { recursive: true });
  const config = join(instance.dir, 'config.ldif');
  writeFileSync(config, configLdif(instance));
  await run('slapadd', ['-n0', '-F', join(instance.dir, 'slapd.d'), '-l', config]);
  const base = join(instance.dir, 'base.ldif');
  writeFileSync(base, baseLdif(instance));
  for (const file of [base, ...seedLdif]) {
    await run('slapadd', ['-q', '-w', '-b', instance.suffix, '-F', join(instance.dir, 'slapd.d'), '-l', file]);
  }
}

export async function startSlapd(instance: SlapdInstance): Promise<void> {
  const pidFile = join(instance.dir, 'daemon.pid');
  if (isRunning(pidFile) && (await slapdAnswers(instance))) return;
  await stopDaemon(pidFile);
  const logFile = join(instance.dir, 'slapd.log');
  // -d 0 keeps slapd in the foreground, so the recorded PID is the server's own.
  startDaemon({
    name: 'slapd',
    command: '/usr/sbin/slapd',
    args: ['-d', '0', '-F', join(instance.dir, 'slapd.d'), '-h', `${instance.url}/`],
    logFile,
    pidFile,
  });
  await waitFor(async () => isRunning(pidFile) && (await slapdAnswers(instance)), {
    timeoutMs: 20_000,
    what: `slapd on ${instance.url}`,
    logFile,
  });
}

export async function stopSlapd(instance: SlapdInstance): Promise<boolean> {
  return stopDaemon(join(instance.dir, 'daemon.pid'), { timeoutMs: 10_000 });
}

export function slapdPid(instance: SlapdInstance): string {
  return join(instance.dir, 'daemon.pid');
}

/** The shared instance of `npm run infra:up`: tests create their own OU below the suffix. */
export function defaultSlapd(): SlapdInstance {
  return slapdInstance({ dir: join(STATE_DIR, 'openldap'), port: 38389 });
}

export function createOpenLdapComponent(instance: SlapdInstance = defaultSlapd()): Component {
  return {
    name: 'openldap',
    async up(log) {
      const endpoints = {
        url: instance.url,
        suffix: instance.suffix,
        adminDn: instance.adminDn,
        adminPassword: instance.adminPassword,
        sampleBaseDn: `ou=sample,${instance.suffix}`,
        dir: instance.dir,
      };
      // A slapd already answering with our suffix and admin is reused, whoever started it.
      if (await slapdAnswers(instance)) return endpoints;
      if (!existsSync(join(instance.dir, 'slapd.d', 'cn=config.ldif'))) {
        log(`creating the OpenLDAP instance in ${instance.dir} (sample: ou=sample, ${DEFAULT_SAMPLE.users} users)`);
        await ensureAptPackages(OPENLDAP_PACKAGES, log);
        mkdirSync(instance.dir, { recursive: true });
        const sample = join(STATE_DIR, 'sample.ldif');
        await writeSampleLdif(sample, { ...DEFAULT_SAMPLE, baseDn: `ou=sample,${instance.suffix}` });
        const sampleOu = join(STATE_DIR, 'sample-ou.ldif');
        writeFileSync(sampleOu, `dn: ou=sample,${instance.suffix}\nobjectClass: top\nobjectClass: organizationalUnit\nou: sample\n\n`);
        await createSlapd(instance, [sampleOu, sample]);
      }
      log(`starting slapd on ${instance.url}`);
      await startSlapd(instance);
      return endpoints;
    },
    down: () => stopSlapd(instance),
    async status() {
      return {
        running: isRunning(slapdPid(instance)) && (await slapdAnswers(instance)),
        detail: `slapd ${instance.url} suffix ${instance.suffix} (data ${instance.dir})`,
      };
    },
  };
}
