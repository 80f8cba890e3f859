import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  canonicalDump,
  closeDatabase,
  createLocalUser,
  type Database,
  findEffectiveGroups,
  findUser,
  findUserRoles,
  findUsersByLoginName,
  migrate,
  openDatabase,
} from '@dirstream/applier';
import { userKey } from '@dirstream/events';
import { createHarness, type Harness } from './harness.ts';
import { groupEvent, membershipEvent, PROFILE_A, PROFILE_B, syncRunEvent, userEvent } from './fixtures.ts';

describe('applier against Kafka and PostgreSQL', { timeout: 300_000 }, () => {
  let h: Harness;
  let db: Database;

  before(async () => {
    h = await createHarness('applier', { conflictPolicy: 'link' });
    await migrate({ config: h.config });
    db = await openDatabase(h.config);
  });
  after(async () => {
    if (db !== undefined) await closeDatabase(db);
    await h.close();
  });

  it('applies edges before their users, groups before members, out of order and twice to the same rows', async () => {
    // Edges first, their users and groups afterwards.
    await h.produceMemberships([
      membershipEvent('staff', 'alice', 1),
      membershipEvent('staff', 'bob', 1),
      membershipEvent('admins', 'alice', 1),
      membershipEvent('staff', 'admins', 1, 'added', 'group'),
      membershipEvent('staff', 'bob', 2, 'removed'),
      membershipEvent('staff', 'bob', 1), // older `added` after the removal: no resurrection
    ]);
    // The poller bound the configured names to these groups (group-event v2 roleBindings).
    await h.produceGroups([groupEvent('staff', 1, { roleBindings: ['staff'] }), groupEvent('admins', 1, { roleBindings: ['admins'] })]);
    await h.produceUsers([
      userEvent('alice', 20, { displayName: `O'Brien "Ali" ? \\ café` }),
      userEvent('alice', 10, { displayName: 'stale' }), // older, arrives later
      userEvent('bob', 5),
      userEvent('carol', 5, { emails: ['carol@example.test', 'c@example.test'] }),
    ]);
    await h.produceSyncRuns([syncRunEvent('run-1')]);

    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });

    const alice = await findUser(db, PROFILE_A, 'alice');
    assert.equal(alice?.displayName, `O'Brien "Ali" ? \\ café`);
    assert.equal(alice?.version, 20);
    assert.deepEqual((await findUser(db, PROFILE_A, 'carol'))?.emails, ['carol@example.test', 'c@example.test']);
    assert.deepEqual(await findEffectiveGroups(db, PROFILE_A, 'alice'), ['admins', 'staff']);
    assert.deepEqual(await findEffectiveGroups(db, PROFILE_A, 'bob'), []);
    // staff → reader, writer; admins → admin (config.policies.groupRoles), through nesting.
    assert.deepEqual(await findUserRoles(db, PROFILE_A, 'alice'), ['admin', 'reader', 'writer']);
    const runs = await db.query<{ status: string }>('select status from sync_runs where run_id = $1', ['run-1']);
    assert.deepEqual(runs, [{ status: 'succeeded' }]);

    const first = await canonicalDump(db);
    // The same records again, under a new group: nothing changes.
    await h.produceMemberships([membershipEvent('staff', 'alice', 1), membershipEvent('staff', 'bob', 1)]);
    await h.produceUsers([userEvent('alice', 20), userEvent('bob', 5), userEvent('alice', 10)]);
    assert.deepEqual(await h.applyUntilCaughtUp(h.config, { groupId: `${h.prefix}-again` }), { ok: true });
    assert.equal((await canonicalDump(db)).hash, first.hash);
  });

  it('announces a real enabled/disabled transition once, never a duplicate', async () => {
    await h.produceUsers([
      userEvent('bob', 6, { enabled: false, disabledReason: 'removed-from-directory' }),
      userEvent('dave', 1, { enabled: false, disabledReason: 'directory-disabled' }), // first seen: not announced
    ]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });
    // Redelivered input (same version) and a re-enable.
    await h.produceUsers([userEvent('bob', 6, { enabled: false }), userEvent('bob', 7)]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });
    await h.produceUsers([userEvent('bob', 7), userEvent('bob', 6, { enabled: false })]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });

    const lifecycle = await h.readLifecycle();
    assert.deepEqual(
      lifecycle.map((e) => [e.type, e.externalId, e.version]),
      [
        ['user-disabled', 'bob', 6],
        ['user-enabled', 'bob', 7],
      ],
    );
    assert.equal(lifecycle[0]?.reason, 'removed-from-directory');
    const pending = await db.query<{ n: string }>('select count(*) as n from outbox where published_at is null');
    assert.equal(Number(pending[0]?.n), 0);
  });

  it('applies the conflict policy for local accounts and reports a user in two profiles', async () => {
    const localId = await createLocalUser(db, { loginName: 'Erin' });
    await h.produceUsers([userEvent('erin-guid', 3, { loginName: 'erin' }), userEvent('frank', 3, { sid: 'S-1-5-21-9-9-9-1105' })]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });
    await h.produceUsers([userEvent('frank-b', 4, { profileId: PROFILE_B, sid: 'S-1-5-21-9-9-9-1105' })]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });

    // link: the local row now carries the directory identity (one row, not two).
    const erins = await findUsersByLoginName(db, 'erin');
    assert.equal(erins.length, 1);
    assert.equal(erins[0]?.id, localId);
    assert.equal(erins[0]?.source, 'local');
    assert.equal(erins[0]?.externalId, 'erin-guid');
    const log = await db.query<{ op: string; error_code: string | null }>(
      `select op, error_code from sync_log where external_id in ('erin-guid', 'frank-b') and op in ('linked', 'duplicate-identity') order by op`,
    );
    assert.deepEqual(log, [
      { op: 'duplicate-identity', error_code: 'USER_DUPLICATE_IDENTITY' },
      { op: 'linked', error_code: null },
    ]);
  });

  it('sends undecodable and unappliable records to the dead-letter topic and goes on', async () => {
    await h.produceRaw(h.topics.users, 'garbage', Buffer.from('definitely not avro'));
    await h.produceUsers([userEvent('ghost', 1, { profileId: '00000000-0000-4000-8000-000000000999' })]);
    await h.produceUsers([userEvent('after-poison', 1)]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });

    assert.ok(await findUser(db, PROFILE_A, 'after-poison'));
    const dead = await h.readDeadLetters();
    assert.equal(dead.length, 2);
    assert.ok(dead.some((d) => d.code === 'EVENT_DECODE_FAILED' || d.code === 'EVENT_UNKNOWN_SCHEMA'));
    const unknown = dead.find((d) => d.code === 'APPLY_UNKNOWN_PROFILE');
    assert.ok(unknown);
    assert.equal(unknown.sourceTopic, h.topics.users);
    assert.match(unknown.reason, /not configured/);
    const garbage = dead.find((d) => d.code !== 'APPLY_UNKNOWN_PROFILE');
    assert.equal(Buffer.from(garbage?.value ?? []).toString(), 'definitely not avro');
    assert.equal(Buffer.from(garbage?.key ?? []).toString(), 'garbage');
  });

  it('isolates a record the database rejects and dead-letters only that one after retries', async () => {
    // PostgreSQL cannot store U+0000 in text: SQLSTATE class 22, the record's own fault.
    await h.produceUsers([
      userEvent('nul-before', 1),
      userEvent('nul-user', 1, { displayName: 'bad\u0000name' }),
      userEvent('nul-after', 1),
    ]);
    assert.deepEqual(await h.applyUntilCaughtUp(), { ok: true });
    assert.ok(await findUser(db, PROFILE_A, 'nul-before'));
    assert.ok(await findUser(db, PROFILE_A, 'nul-after'));
    assert.equal(await findUser(db, PROFILE_A, 'nul-user'), null);
    const dead = (await h.readDeadLetters()).filter((d) => d.code.startsWith('22'));
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.attempts, h.config.applier.applyRetries + 1);
    assert.equal(Buffer.from(dead[0]?.key ?? []).toString(), userKey(PROFILE_A, 'nul-user'));
  });

  it('a replay into an empty database rebuilds the same state and announces nothing', async () => {
    const live = await canonicalDump(db);
    const announcedBefore = (await h.readLifecycle()).length;
    const empty = await h.newDatabase('applier-replay');
    const replayConfig = { ...h.config, database: { ...h.config.database, url: empty.url } };
    // The local account is application data, not part of the stream: create it there too.
    const replayDb = await openDatabase(replayConfig);
    try {
      assert.deepEqual(await h.applyUntilCaughtUp(replayConfig, { replay: true }), { ok: true });
      const rebuilt = await canonicalDump(replayDb);
      const withoutLocal = (text: string) =>
        text
          .split('\n')
          .filter((l) => !l.includes('"external_id":"erin-guid"'))
          .join('\n');
      assert.equal(withoutLocal(rebuilt.text), withoutLocal(live.text));
      assert.equal((await h.readLifecycle()).length, announcedBefore);
      const outbox = await replayDb.query<{ n: string }>('select count(*) as n from outbox where published_at is null');
      assert.equal(Number(outbox[0]?.n), 0);
      // A second replay into the now non-empty database is refused.
      const again = await h.applyUntilCaughtUp(replayConfig, { replay: true });
      assert.equal(again.ok, false);
    } finally {
      await closeDatabase(replayDb);
    }
  });
});
