/**
 * `directory: active-directory` with `delta: timestamp` (issue 13, item 5): deltas on the mapping's
 * modification marker (whenChanged by default), not silently full passes, with the removal check.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProfileConfig } from '@dirstream/config';
import { type AdOu, createAdOu, createTestDatabase, loadInfra, loadSamba, type TestDatabase } from '@dirstream/testing';
import { type AdPoller, adProfile, createAdPoller, describeEvents } from './ad-support.ts';

const samba = loadSamba();

describe('active-directory with the timestamp delta', () => {
  let database: TestDatabase;
  let ou: AdOu;
  let poller: AdPoller;
  before(async () => {
    database = await createTestDatabase(loadInfra(), 'ad-timestamp');
    ou = await createAdOu(samba, 'ad-ts');
    const base = adProfile(samba, ou);
    const profile = { ...base, schedule: { ...base.schedule, delta: 'timestamp', overlapSeconds: 2 } } as ProfileConfig;
    poller = await createAdPoller(profile, database.url);
  });
  after(async () => {
    await poller?.close();
    await ou?.cleanup();
    await database?.drop();
  });

  it('deltas read what changed since the cursor (whenChanged) and the removal check sees deletions', async () => {
    const a = await ou.addUser('tsa');
    const b = await ou.addUser('tsb');
    const first = await poller.run();
    assert.equal(first.result.mode, 'full');
    assert.equal(first.result.status, 'succeeded', first.result.reason ?? '');
    const quiet = await poller.run();
    assert.equal(quiet.result.mode, 'delta', 'a timestamp delta, not a silent full pass');
    assert.equal(quiet.result.status, 'succeeded', quiet.result.reason ?? '');
    // whenChanged has a resolution of one second: the overlap re-reads the boundary, harmlessly.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await ou.modify(a, { title: 'Boss' });
    await ou.client.del(b);
    const delta = await poller.run();
    assert.equal(delta.result.mode, 'delta');
    assert.equal(delta.result.status, 'succeeded', delta.result.reason ?? '');
    assert.deepEqual(describeEvents(delta), [
      `user disabled ${ou.login('tsb')} (removed-from-directory)`,
      `user updated ${ou.login('tsa')}`,
    ]);
    assert.deepEqual(describeEvents(await poller.run()), []);
  });

  it('removedUsers: keep keeps a deleted user, and still disables a user disabled in AD (docs/active-directory.md)', async () => {
    const keepOu = await createAdOu(samba, 'ad-keep');
    const base = adProfile(samba, keepOu);
    const keeper = await createAdPoller({ ...base, policies: { ...base.policies, removedUsers: 'keep' } } as ProfileConfig, database.url);
    try {
      const gone = await keepOu.addUser('kgone');
      const off = await keepOu.addUser('koff');
      assert.equal((await keeper.run()).result.status, 'succeeded');
      await keepOu.client.del(gone);
      await keepOu.modify(off, { userAccountControl: '514' });
      const next = await keeper.run({ full: true });
      assert.equal(next.result.status, 'succeeded', next.result.reason ?? '');
      assert.deepEqual(describeEvents(next), [`user disabled ${keepOu.login('koff')} (directory-disabled)`]);
    } finally {
      await keeper.close();
      await keepOu.cleanup();
    }
  });
});
