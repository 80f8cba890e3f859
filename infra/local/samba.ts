/**
 * A real Samba Active Directory domain controller, provisioned into a private directory and run in
 * the foreground (`samba -i -M single`) with only its LDAP service. One DC per loopback address
 * (Samba's ports 389/636 are fixed): the shared DC of `npm run infra:up` is on 127.0.0.1, a test
 * that needs a second DC puts it on 127.0.0.2.
 *
 * Seeding over LDAP is slow (~55 s per 10k users), so a seeded DC is snapshotted once (`cp -a` of
 * the stopped DC, keyed by a hash of the fixture) and later DCs are restored from the snapshot.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'ldapts';
import { AD_FIXTURE_VERSION, type AdFixtureOptions, DEFAULT_AD_FIXTURE, seedAdFixture } from '../sample/ad-fixture.ts';
import { ensureAptPackages } from './apt.ts';
import type { Component } from './component.ts';
import { STATE_DIR } from './paths.ts';
import { isRunning, run, startDaemon, stopDaemon, waitFor } from './process.ts';

export const SAMBA_PACKAGES = [
  'samba',
  'samba-ad-dc',
  'samba-ad-provision',
  'samba-dsdb-modules',
  'winbind',
  'krb5-user',
  'ldb-tools',
  // A DC started with its clock moved (SambaDc.clockShift): password expiry, end to end.
  'faketime',
] as const;

export const SAMBA_REALM = 'DIRSTREAM.TEST';
export const SAMBA_DOMAIN = 'DIRSTREAM';
export const SAMBA_BASE_DN = 'DC=dirstream,DC=test';
export const SAMBA_ADMIN_DN = `CN=Administrator,CN=Users,${SAMBA_BASE_DN}`;
/** Meets AD's default complexity rules. A test-only secret, also written to DIR/admin-password. */
export const SAMBA_ADMIN_PASSWORD = 'Dirstream-Admin-1!';

export type SambaDc = {
  readonly dir: string;
  /** The loopback address the DC binds (127.0.0.x); it listens on 389 and 636 there. */
  readonly ip: string;
  readonly hostName: string;
  readonly adminPassword: string;
  /**
   * Run samba with its clock moved by this libfaketime offset (e.g. `+200d`): what only time makes
   * happen (a password older than maxPwdAge, AD data 532) without waiting. The system clock is untouched.
   */
  readonly clockShift?: string;
};

/** libfaketime (Debian package faketime), preloaded into samba for SambaDc.clockShift. */
const FAKETIME_LIBRARY = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export type SambaEndpoints = {
  /** LDAPS (636), verified with `caFile` and `serverName`. */
  readonly url: string;
  /** Plain LDAP (389): use StartTLS before a simple bind, Samba refuses it otherwise. */
  readonly ldapUrl: string;
  readonly caFile: string;
  /** The host name in Samba's certificate: the TLS `servername` to verify against. */
  readonly serverName: string;
  readonly baseDn: string;
  readonly realm: string;
  readonly domain: string;
  readonly adminDn: string;
  readonly adminPassword: string;
  readonly adminPasswordFile: string;
  /** The seeded fixture (OU=sample) and what it holds. */
  readonly sampleBaseDn: string;
  readonly fixture: AdFixtureOptions;
  readonly dir: string;
  /** The stopped, seeded DC that `restoreSambaDc` copies. */
  readonly snapshotDir: string;
};

export function sambaDc(options: { dir: string; ip?: string; hostName?: string; adminPassword?: string; clockShift?: string }): SambaDc {
  return {
    dir: options.dir,
    ip: options.ip ?? '127.0.0.1',
    hostName: options.hostName ?? 'dc1',
    adminPassword: options.adminPassword ?? SAMBA_ADMIN_PASSWORD,
    ...(options.clockShift === undefined ? {} : { clockShift: options.clockShift }),
  };
}

/** samba-tool is Python: the `python3` on PATH may be a shim without the samba module. */
function sambaEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `/usr/bin:/usr/sbin:/bin:/sbin:${process.env.PATH ?? ''}` };
}

const smbConf = (dir: string) => join(dir, 'etc', 'smb.conf');
const pidFileOf = (dir: string) => join(dir, 'daemon.pid');
const logFileOf = (dir: string) => join(dir, 'log', 'samba.out');
export const caFileOf = (dir: string) => join(dir, 'private', 'tls', 'ca.pem');

export function sambaServerName(dc: Pick<SambaDc, 'hostName'>): string {
  return `${dc.hostName}.${SAMBA_REALM.toLowerCase()}`;
}

/** Keeps provision's [global] lines (minus ours), drops the share sections, adds the LDAP-only setup. */
function trimmedSmbConf(original: string, dc: SambaDc): string {
  const ours = new Set([
    'interfaces',
    'bind interfaces only',
    'pid directory',
    'ncalrpc dir',
    'winbindd socket directory',
    'ntp signd socket directory',
    'log file',
    'server services',
    'dcerpc endpoint servers',
    'ldb:nosync',
    'cache directory',
    'max log size',
    'log level',
  ]);
  const global: string[] = [];
  let section = '';
  for (const line of original.split('\n')) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) {
      section = header[1]!.toLowerCase();
      continue;
    }
    if (section !== 'global' || line.trim() === '' || line.trim().startsWith('#')) continue;
    const key = line.split('=')[0]!.trim().toLowerCase();
    if (!ours.has(key)) global.push(`\t${line.trim()}`);
  }
  const d = dc.dir;
  return [
    '# dirstream: a test DC serving LDAP only (written by infra/local/samba.ts)',
    '[global]',
    ...global,
    `\tinterfaces = ${dc.ip}`,
    '\tbind interfaces only = yes',
    `\tpid directory = ${d}/run`,
    `\tncalrpc dir = ${d}/run/ncalrpc`,
    `\twinbindd socket directory = ${d}/run/winbindd`,
    `\tntp signd socket directory = ${d}/run/ntp_signd`,
    `\tcache directory = ${d}/cache`,
    `\tlog file = ${d}/log/samba.log`,
    '\tmax log size = 10000',
    '\tlog level = 1',
    '\tserver services = ldap',
    '\tldb:nosync = true',
    '',
  ].join('\n');
}

function prepareDirs(dir: string): void {
  for (const sub of ['cache', 'run', 'log']) mkdirSync(join(dir, sub), { recursive: true });
}

/** `samba-tool domain provision` into `dc.dir` (replacing it), then the trimmed smb.conf. */
export async function provisionSambaDc(dc: SambaDc, log: (line: string) => void = () => {}): Promise<void> {
  await ensureAptPackages(SAMBA_PACKAGES, log);
  await stopSambaDc(dc.dir);
  rmSync(dc.dir, { recursive: true, force: true });
  mkdirSync(dc.dir, { recursive: true });
  log(`provisioning Samba AD DC ${SAMBA_REALM} in ${dc.dir}`);
  await run(
    '/usr/bin/samba-tool',
    [
      'domain',
      'provision',
      `--targetdir=${dc.dir}`,
      `--realm=${SAMBA_REALM}`,
      `--domain=${SAMBA_DOMAIN}`,
      '--server-role=dc',
      '--dns-backend=NONE',
      '--use-rfc2307',
      `--host-name=${dc.hostName}`,
      `--host-ip=${dc.ip}`,
      `--adminpass=${dc.adminPassword}`,
      `--option=interfaces=${dc.ip}`,
      '--option=bind interfaces only=yes',
      '--backend-store=mdb',
    ],
    { env: sambaEnv() },
  );
  writeFileSync(smbConf(dc.dir), trimmedSmbConf(readFileSync(smbConf(dc.dir), 'utf8'), dc));
  writeFileSync(join(dc.dir, 'admin-password'), `${dc.adminPassword}\n`, { mode: 0o600 });
  prepareDirs(dc.dir);
}

/** True when the DC answers a rootDSE search (anonymous, no TLS needed). */
export async function sambaAnswers(dc: Pick<SambaDc, 'ip'>): Promise<boolean> {
  const client = new Client({ url: `ldap://${dc.ip}:389`, connectTimeout: 1_000, timeout: 2_000 });
  try {
    const { searchEntries } = await client.search('', { scope: 'base', attributes: ['highestCommittedUSN'] });
    return searchEntries.length === 1 && searchEntries[0]!.highestCommittedUSN !== undefined;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => {});
  }
}

/**
 * Samba binds only addresses that an interface has. 127.0.0.1 is on `lo`; another loopback
 * address (a second DC) is added to `lo` as a /32 — traffic stays on this machine.
 */
async function ensureLoopbackAddress(ip: string): Promise<void> {
  if (ip === '127.0.0.1') return;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip)) throw new Error(`a test DC must listen on a loopback address, not ${ip}`);
  const shown = (await run('/usr/sbin/ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo'])).stdout;
  if (shown.includes(` ${ip}/`)) return;
  await run('/usr/sbin/ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
}

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts the DC in `dc.dir` (provisioning it first when the directory is empty). Idempotent. */
export async function startSambaDc(dc: SambaDc, log: (line: string) => void = () => {}): Promise<void> {
  if (!existsSync(smbConf(dc.dir))) await provisionSambaDc(dc, log);
  const pidFile = pidFileOf(dc.dir);
  if (isRunning(pidFile) && (await sambaAnswers(dc))) return;
  await stopDaemon(pidFile);
  prepareDirs(dc.dir);
  await ensureLoopbackAddress(dc.ip);
  if (await portAnswers(dc.ip, 389)) {
    throw new Error(
      `${dc.ip}:389 is already taken by another process (a system slapd or samba-ad-dc started by apt?): stop it, or use another loopback address`,
    );
  }
  const logFile = logFileOf(dc.dir);
  log(`starting samba on ${dc.ip}:389/636`);
  startDaemon({
    name: 'samba',
    command: '/usr/sbin/samba',
    args: ['-i', '-M', 'single', '-s', smbConf(dc.dir)],
    env:
      dc.clockShift === undefined
        ? sambaEnv()
        : { ...sambaEnv(), LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: dc.clockShift, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    logFile,
    pidFile,
  });
  // Like waitFor, but a samba that exited fails at once (with its log) instead of at the deadline.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const exited = !isRunning(pidFile);
    if (!exited && (await sambaAnswers(dc))) break;
    if (exited || Date.now() > deadline) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2_000) : '';
      const what = exited ? 'exited during start-up' : 'did not answer within 60 s';
      throw new Error(`samba in ${dc.dir} on ${dc.ip} ${what}\n--- ${logFile} (tail) ---\n${tail}`);
    }
    await sleep(300);
  }
  // The CA is written on first start, just before the LDAPS listener opens.
  await waitFor(async () => existsSync(caFileOf(dc.dir)), { timeoutMs: 20_000, what: `${caFileOf(dc.dir)}`, logFile });
}

export async function stopSambaDc(dir: string): Promise<boolean> {
  return stopDaemon(pidFileOf(dir), { timeoutMs: 15_000 });
}

export function sambaRunning(dir: string): boolean {
  return isRunning(pidFileOf(dir));
}

/** Copies the DC in `dir` (stopping it first; restarted after if it ran) to `snapshotDir`. */
export async function snapshotSambaDc(dir: string, snapshotDir: string, dc?: SambaDc): Promise<void> {
  const wasRunning = await stopSambaDc(dir);
  rmSync(snapshotDir, { recursive: true, force: true });
  mkdirSync(dirname(snapshotDir), { recursive: true });
  const tmp = `${snapshotDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  // cp -a keeps owners and modes (samba refuses a msg.sock that is not 0700).
  await run('cp', ['-a', dir, tmp]);
  for (const transient of ['run', 'daemon.pid', 'log', 'msg.sock', 'msg.lock'])
    rmSync(join(tmp, transient), { recursive: true, force: true });
  renameSync(tmp, snapshotDir);
  if (wasRunning && dc) await startSambaDc(dc);
}

/**
 * Replaces `dc.dir` with a copy of `snapshotDir` (a stopped DC) and starts it on `dc.ip`.
 * The smb.conf paths and the listening address are rewritten for the new place.
 */
export async function restoreSambaDc(snapshotDir: string, dc: SambaDc, log: (line: string) => void = () => {}): Promise<void> {
  if (!existsSync(smbConf(snapshotDir))) throw new Error(`no Samba snapshot in ${snapshotDir}`);
  await stopSambaDc(dc.dir);
  rmSync(dc.dir, { recursive: true, force: true });
  mkdirSync(dirname(dc.dir), { recursive: true });
  // cp -a keeps owners, modes and the sparse LMDB files as they are.
  await run('cp', ['-a', snapshotDir, dc.dir]);
  for (const transient of ['run', 'daemon.pid', 'log', 'msg.sock', 'msg.lock'])
    rmSync(join(dc.dir, transient), { recursive: true, force: true });
  const conf = readFileSync(smbConf(dc.dir), 'utf8');
  const oldDir = /^\s*private dir\s*=\s*(.+)\/private\s*$/m.exec(conf)?.[1];
  const moved = oldDir ? conf.split(oldDir).join(dc.dir) : conf;
  writeFileSync(smbConf(dc.dir), moved.replace(/^\s*interfaces\s*=.*$/m, `\tinterfaces = ${dc.ip}`));
  log(`restored ${snapshotDir} into ${dc.dir}`);
  await startSambaDc(dc, log);
}

/** The shared DC of `npm run infra:up`. */
export function defaultSambaDc(): SambaDc {
  return sambaDc({ dir: join(STATE_DIR, 'samba', 'dc1'), ip: '127.0.0.1' });
}

export function fixtureKey(fixture: AdFixtureOptions): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: AD_FIXTURE_VERSION, fixture }))
    .digest('hex')
    .slice(0, 16);
}

/** Where the stopped, seeded DC for `fixture` is cached. */
export function snapshotDirFor(fixture: AdFixtureOptions): string {
  return join(STATE_DIR, 'samba', 'snapshots', fixtureKey(fixture));
}

export function sambaEndpoints(dc: SambaDc = defaultSambaDc(), fixture: AdFixtureOptions = DEFAULT_AD_FIXTURE): SambaEndpoints {
  return {
    url: `ldaps://${dc.ip}:636`,
    ldapUrl: `ldap://${dc.ip}:389`,
    caFile: caFileOf(dc.dir),
    serverName: sambaServerName(dc),
    baseDn: SAMBA_BASE_DN,
    realm: SAMBA_REALM,
    domain: SAMBA_DOMAIN,
    adminDn: SAMBA_ADMIN_DN,
    adminPassword: dc.adminPassword,
    adminPasswordFile: join(dc.dir, 'admin-password'),
    sampleBaseDn: `OU=${fixture.ou},${SAMBA_BASE_DN}`,
    fixture,
    dir: dc.dir,
    snapshotDir: snapshotDirFor(fixture),
  };
}

/** An admin client over LDAPS, verified with the DC's own CA. */
export async function sambaAdminClient(dc: SambaDc): Promise<Client> {
  const client = new Client({
    url: `ldaps://${dc.ip}:636`,
    connectTimeout: 5_000,
    timeout: 120_000,
    tlsOptions: { ca: [readFileSync(caFileOf(dc.dir))], servername: sambaServerName(dc) },
  });
  await client.bind(SAMBA_ADMIN_DN, dc.adminPassword);
  return client;
}

/**
 * A seeded DC for `fixture`: restored from its cached snapshot, or provisioned, seeded and
 * snapshotted the first time (the snapshot is the slow part; later runs take seconds).
 */
export async function ensureSeededSambaDc(
  dc: SambaDc,
  fixture: AdFixtureOptions = DEFAULT_AD_FIXTURE,
  log: (line: string) => void = () => {},
): Promise<void> {
  const snapshotDir = snapshotDirFor(fixture);
  const marker = join(dc.dir, 'fixture-key');
  const key = fixtureKey(fixture);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === key) {
    await startSambaDc(dc, log);
    return;
  }
  if (!existsSync(smbConf(snapshotDir))) {
    const buildDc = sambaDc({ dir: `${snapshotDir}.build`, ip: dc.ip, hostName: dc.hostName, adminPassword: dc.adminPassword });
    await stopSambaDc(dc.dir);
    await provisionSambaDc(buildDc, log);
    await startSambaDc(buildDc, log);
    const started = Date.now();
    const client = await sambaAdminClient(buildDc);
    try {
      const count = await seedAdFixture(client, SAMBA_BASE_DN, fixture);
      log(`seeded ${count} AD entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await client.unbind().catch(() => {});
    }
    writeFileSync(join(buildDc.dir, 'fixture-key'), `${key}\n`);
    await snapshotSambaDc(buildDc.dir, snapshotDir);
    rmSync(buildDc.dir, { recursive: true, force: true });
  }
  await restoreSambaDc(snapshotDir, dc, log);
}

export const sambaComponent: Component = {
  name: 'samba',
  async up(log) {
    const dc = defaultSambaDc();
    await ensureAptPackages(SAMBA_PACKAGES, log);
    await ensureSeededSambaDc(dc, DEFAULT_AD_FIXTURE, log);
    return sambaEndpoints(dc);
  },
  down: () => stopSambaDc(defaultSambaDc().dir),
  async status() {
    const dc = defaultSambaDc();
    return {
      running: sambaRunning(dc.dir) && (await sambaAnswers(dc)),
      detail: `samba AD DC ldaps://${dc.ip}:636 ${SAMBA_BASE_DN} (data ${dc.dir})`,
    };
  },
};
