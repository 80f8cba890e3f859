/**
 * AD sub-code 532 (password expired) end to end: a private Samba AD DC restored from the seeded
 * snapshot on 127.0.0.5, synced by the real poller and applier, then restarted with its clock 200
 * days ahead (libfaketime, SambaDc.clockShift): the fixture user's password, set when the snapshot
 * was seeded, is now older than the domain's maxPwdAge (42 days), and the DC refuses its bind with
 * `data 532`. Before the clock moves, the same sign-in succeeds.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSamba, uniquePrefix } from '@dirstream/testing';
import { STATE_DIR } from '../../../infra/local/paths.ts';
import { caFileOf, restoreSambaDc, type SambaDc, sambaDc, startSambaDc, stopSambaDc } from '../../../infra/local/samba.ts';
import { AD_FIXTURE_PASSWORD } from '../../../infra/sample/ad-fixture.ts';
import { createPipeline, type Pipeline } from '../../../test/support/pipeline.ts';
import { serveConfig, startServe } from './auth-support.ts';

const samba = loadSamba();
const dc: SambaDc = sambaDc({ dir: join(STATE_DIR, 'samba', 'tests', uniquePrefix('auth-expired')), ip: '127.0.0.5' });
let pipeline: Pipeline;

before(async () => {
  await restoreSambaDc(samba.snapshotDir, dc);
  pipeline = await createPipeline({
    label: 'auth-ad-expired',
    directory: {
      type: 'active-directory',
      urls: [`ldaps://${dc.ip}:636`],
      bindDn: samba.adminDn,
      bindPassword: samba.adminPassword,
      tls: { caFile: caFileOf(dc.dir), serverName: samba.serverName },
      pageSize: 1000,
    },
    profile: { users: { baseDn: `OU=staff,${samba.sampleBaseDn}` }, groups: null, schedule: { delta: 'usn' } },
  });
  const poll = await pipeline.runPoller(['--full']);
  assert.equal(poll.code, 0, poll.stderr);
  await pipeline.applyUntilCaughtUp();
});

after(async () => {
  await pipeline?.cleanup();
  await stopSambaDc(dc.dir);
  rmSync(dc.dir, { recursive: true, force: true });
});

describe('sign-in against an AD DC whose clock passed the password age', () => {
  it('answers 403 AUTH_PASSWORD_EXPIRED (AD data 532), where the same sign-in succeeded before', async () => {
    const signIn = async () => {
      const api = await startServe(serveConfig(pipeline.config));
      try {
        const { status, body } = await api.authenticate({ login: 'pw001', password: AD_FIXTURE_PASSWORD });
        return [status, status === 200 ? 'success' : body] as const;
      } finally {
        await api.close();
      }
    };
    assert.deepEqual(await signIn(), [200, 'success']);
    await stopSambaDc(dc.dir);
    await startSambaDc({ ...dc, clockShift: '+200d' });
    assert.deepEqual(await signIn(), [403, { code: 'AUTH_PASSWORD_EXPIRED' }]);
    // A wrong password: the DC answers 52e, and the stale-DN lookup that follows every refused bind
    // needs the service account, whose own password (Administrator's) expired with the same clock:
    // the profile cannot answer, 503 naming it (never 500, never "accept").
    const api = await startServe(serveConfig(pipeline.config));
    try {
      const { status, body } = await api.authenticate({ login: 'pw001', password: 'Not-The-Passw0rd!' });
      assert.deepEqual([status, body], [503, { code: 'AUTH_DIRECTORY_UNAVAILABLE', profiles: ['auth-ad-expired'] }]);
    } finally {
      await api.close();
    }
  });
});
