/**
 * kill -9 between produce and checkpoint: the rerun re-emits what was not checkpointed, and
 * nothing is missing from the topics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { createCodec, topicNames } from '@dirstream/events';
import { readTopics } from '@dirstream/testing';
import { setupPollerTest } from './poller-support.ts';

it('a poller killed after produce and before checkpoint re-emits on rerun, nothing missing', async () => {
  const t = await setupPollerTest('crash');
  try {
    const dns: string[] = [];
    for (let i = 0; i < 30; i++) dns.push(await t.ldap.addUser(`crash${String(i).padStart(2, '0')}`));
    await t.ldap.addGroup('all', dns);
    const config = await t.config({ connection: { pageSize: 10 } });
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'crash-child.ts')], {
      env: { ...process.env, CRASH_CONFIG: JSON.stringify(config), CRASH_AT_BATCH: '2' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL', 'the child died by SIGKILL');

    const codec = createCodec();
    const topics = topicNames(t.prefix);
    const readUsers = async () =>
      (await readTopics(t.kafka, [topics.users])).filter((r) => r.value !== null).map((r) => codec.decode('user-event', r.value as Buffer));
    const beforeRerun = await readUsers();
    assert.equal(beforeRerun.length, 20, 'two batches of 10 were acknowledged before the kill');

    const rerun = await t.run({ overrides: { connection: { pageSize: 10 } } });
    assert.equal(rerun.ok, true, rerun.reason);
    const reEmitted = (rerun.events?.users ?? []).map((e) => e.state.loginName);
    const acknowledged = new Set(beforeRerun.map((e) => e.state.loginName));
    // Batch 1 was checkpointed (not re-emitted); batch 2 was acknowledged but not checkpointed
    // (re-emitted); batch 3 was never sent (emitted now).
    assert.equal(reEmitted.filter((l) => acknowledged.has(l)).length, 10, 'the un-checkpointed batch is re-emitted');
    assert.equal(reEmitted.filter((l) => !acknowledged.has(l)).length, 10, 'the rest is emitted');
    const secondBatch = reEmitted.filter((l) => acknowledged.has(l));
    const all = await readUsers();
    assert.deepEqual(
      [...new Set(all.map((e) => e.state.loginName))].sort(),
      dns.map((_, i) => `crash${String(i).padStart(2, '0')}`),
    );
    // Re-emitted events carry higher versions, so an applier that saw the first copy applies the second or ignores it safely.
    for (const login of secondBatch) {
      const versions = all.filter((e) => e.state.loginName === login).map((e) => e.version);
      assert.equal(versions.length, 2);
      assert.ok((versions[1] as number) > (versions[0] as number));
    }
    assert.equal(rerun.events?.memberships.length, 30, 'every membership emitted once the users are known');
    const quiet = await t.run({ full: true, overrides: { connection: { pageSize: 10 } } });
    assert.deepEqual(quiet.events?.users, []);
    assert.deepEqual(quiet.events?.memberships, []);
  } finally {
    await t.cleanup();
  }
});
