/**
 * The delta mechanism fitted to the server (issue 13, item 3), on PRIVATE slapds built the way
 * many real ones are: without the accesslog overlay (syncprov with a session log), and with
 * neither accesslog nor syncprov. The shared slapd (all overlays) keeps accesslog.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSlapd, type SlapdOverlays, slapdInstance, startSlapd, stopSlapd } from '../../../infra/local/openldap.ts';
import type { ProfileConfig } from '@dirstream/config';
import { errorCode } from '@dirstream/errors';
import { createSilentLogger } from '@dirstream/logging';
import { freePort } from '@dirstream/testing';
import { connectDirectory } from '../src/directory/client.ts';
import { createSyncreplDelta } from '../src/directory/delta-syncrepl.ts';
import { type PollerTest, setupPollerTest, userOps } from './poller-support.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** `dirstream config check --connect` as a user runs it, on a config with one profile on `slapd`. */
function configCheckConnect(slapd: { url: string; adminDn: string; adminPassword: string; suffix: string }, delta: string) {
  const dir = mkdtempSync(join(tmpdir(), 'dirstream-check-'));
  const file = join(dir, 'dirstream.yaml');
  writeFileSync(
    file,
    `kafka: { brokers: [127.0.0.1:39092] }
database: { url: postgres://postgres@127.0.0.1:5432/postgres }
profiles:
  - id: 6f1c3a52-4a8e-4b7b-9a51-0f0d2f0e9c12
    name: lab
    directory: openldap
    connection: { urls: [${JSON.stringify(slapd.url)}], bindDn: ${JSON.stringify(slapd.adminDn)}, bindPassword: { env: PW } }
    users: { baseDn: ${JSON.stringify(slapd.suffix)} }
    schedule: { delta: ${delta} }
`,
  );
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      join(ROOT, 'node_modules/.bin/node'),
      [join(ROOT, 'services/cli/src/main.ts'), 'config', 'check', '--connect', '-c', file],
      { env: { PATH: process.env.PATH ?? '', PW: slapd.adminPassword }, timeout: 30_000 },
      (error, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
      },
    );
  });
}

async function privateSlapd(label: string, overlays: Partial<SlapdOverlays>) {
  const dir = mkdtempSync(join(tmpdir(), `dirstream-${label}-`));
  const instance = slapdInstance({ dir: join(dir, 'slapd'), port: await freePort(), overlays });
  await createSlapd(instance);
  await startSlapd(instance);
  return {
    instance,
    async stop() {
      await stopSlapd(instance).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('delta mechanism fitted to the server', () => {
  it('the shared slapd (accesslog, syncprov): auto keeps accesslog and says nothing', async () => {
    const t = await setupPollerTest('fit-shared');
    try {
      await t.ldap.addUser('fsa');
      assert.equal((await t.run()).ok, true);
      const delta = await t.run();
      assert.equal(delta.result?.mode, 'delta');
      assert.equal(delta.events?.summary.cursorBefore?.startsWith('{'), false, 'an accesslog cursor (a timestamp)');
      assert.equal(delta.result?.reason, null);
    } finally {
      await t.cleanup();
    }
  });

  describe('without accesslog (syncprov with a session log, no refint)', () => {
    let slapd: Awaited<ReturnType<typeof privateSlapd>>;
    let t: PollerTest;
    before(async () => {
      slapd = await privateSlapd('no-accesslog', { accesslog: false, refint: false });
      t = await setupPollerTest('fit-sync', { openldap: slapd.instance });
    });
    after(async () => {
      await t?.cleanup();
      await slapd?.stop();
    });

    it('auto picks RFC 4533 syncrepl; deltas see additions, changes and deletions', async () => {
      const a = await t.ldap.addUser('sya');
      const b = await t.ldap.addUser('syb');
      const crew = await t.ldap.addGroup('crew', [a, b]);
      const first = await t.run();
      assert.equal(first.ok, true, first.reason);
      assert.equal(first.result?.mode, 'full');
      assert.match(first.result?.reason ?? '', /delta syncrepl .*no accesslog/);
      assert.deepEqual(userOps(first.events), ['created:sya', 'created:syb']);

      const quiet = await t.run();
      assert.equal(quiet.ok, true, quiet.reason);
      assert.equal(quiet.result?.mode, 'delta');
      assert.deepEqual(userOps(quiet.events), []);

      await t.ldap.addUser('syc');
      await t.ldap.modify(a, { title: 'Boss' });
      await t.ldap.client.del(b);
      await t.ldap.modify(crew, { member: [a] });
      const delta = await t.run();
      assert.equal(delta.ok, true, delta.reason);
      assert.equal(delta.result?.mode, 'delta');
      assert.deepEqual(userOps(delta.events), ['created:syc', 'disabled:syb', 'updated:sya']);
      assert.deepEqual(
        delta.events?.memberships.map((m) => m.op),
        ['removed'],
      );
      assert.deepEqual(userOps((await t.run()).events), []);
    });

    it('directory: ldap on the same server: auto picks syncrepl too (no fallback to report)', async () => {
      const g = await setupPollerTest('fit-sync-ldap', { openldap: slapd.instance });
      try {
        const overrides = { directory: 'ldap' };
        const a = await g.ldap.addUser('lsa');
        const first = await g.run({ overrides });
        assert.equal(first.ok, true, first.reason);
        assert.equal(first.result?.reason, null);
        assert.match(first.events?.summary.cursorAfter ?? '', /^\{"v":1,"cookies"/);
        await g.ldap.modify(a, { title: 'Boss' });
        const delta = await g.run({ overrides });
        assert.equal(delta.result?.mode, 'delta');
        assert.deepEqual(userOps(delta.events), ['updated:lsa']);
      } finally {
        await g.cleanup();
      }
    });

    it('more changes than a delta may hold: DELTA_TOO_LARGE (the run does a full pass), the server cut at the limit', async () => {
      const profile = (await t.config()).profiles[0] as ProfileConfig;
      const connection = await connectDirectory(profile.connection, createSilentLogger());
      try {
        const delta = createSyncreplDelta({ bases: [t.ldap.peopleDn], idFilter: (id) => `(entryUUID=${id})` });
        const cursor = await delta.startCursor(connection, Date.now(), 0);
        for (let i = 0; i < 5; i++) await t.ldap.addUser(`big${i}`);
        await assert.rejects(delta.changesSince(connection, cursor, 0, 3), (err: Error) => errorCode(err) === 'DELTA_TOO_LARGE');
        const fits = await delta.changesSince(connection, cursor, 0, 10);
        assert.equal(fits.requestedIds?.length, 5);
      } finally {
        await connection.close();
      }
    });

    it('an explicit accesslog delta fails the run, naming the fix', async () => {
      const r = await t.run({ overrides: { schedule: { delta: 'accesslog' } } });
      assert.equal(r.ok, false);
      assert.equal(r.result?.status, 'failed');
      assert.match(
        r.result?.reason ?? '',
        /DELTA_UNAVAILABLE: .*no accesslog database readable at cn=accesslog\): load slapo-accesslog .*schedule\.delta: auto/,
      );
    });
  });

  describe('without accesslog and syncprov', () => {
    let slapd: Awaited<ReturnType<typeof privateSlapd>>;
    let t: PollerTest;
    before(async () => {
      slapd = await privateSlapd('bare', { accesslog: false, syncprov: false, refint: false });
      t = await setupPollerTest('fit-bare', { openldap: slapd.instance });
    });
    after(async () => {
      await t?.cleanup();
      await slapd?.stop();
    });

    it('auto falls back to modifyTimestamp and says what it cannot see', async () => {
      const a = await t.ldap.addUser('tma');
      const first = await t.run();
      assert.equal(first.ok, true, first.reason);
      assert.match(first.result?.reason ?? '', /delta timestamp .*no accesslog.*Sync Request.*cannot see/);
      await t.ldap.modify(a, { title: 'Boss' });
      const delta = await t.run();
      assert.equal(delta.ok, true, delta.reason);
      assert.equal(delta.result?.mode, 'delta');
      assert.deepEqual(userOps(delta.events), ['updated:tma']);
    });

    it('an explicit syncrepl delta fails the run, naming the fix', async () => {
      const r = await t.run({ overrides: { schedule: { delta: 'syncrepl' } } });
      assert.equal(r.ok, false);
      assert.match(r.result?.reason ?? '', /DELTA_UNAVAILABLE: .*syncprov/);
    });

    it('config check --connect: binds, probes, says what auto chose; an unavailable mechanism fails naming the fix', async () => {
      const auto = await configCheckConnect(slapd.instance, 'auto');
      assert.equal(auto.code, 0, auto.stderr);
      assert.match(auto.stdout, /# ok: lab: bound to ldap:\/\/127\.0\.0\.1:\d+; delta timestamp \(auto: no accesslog/);
      const accesslog = await configCheckConnect(slapd.instance, 'accesslog');
      assert.equal(accesslog.code, 1);
      assert.match(accesslog.stdout, /# FAILED: lab: .*schedule\.delta is "accesslog" but the server offers it not .*load slapo-accesslog/);
    });
  });
});
