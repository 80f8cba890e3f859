import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDirstreamError } from '@dirstream/errors';
import { eventIdFor } from '../src/ids.ts';
import { recordTypeOfTopic, topicNames } from '../src/topics.ts';
import { nextVersion, versionTimeMs } from '../src/versions.ts';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('eventIdFor', () => {
  it('is deterministic and UUID-shaped (version 8, RFC variant)', () => {
    const id = eventIdFor('user', 'p', 'x', '1795000000000000');
    assert.match(id, UUID_V8);
    assert.equal(eventIdFor('user', 'p', 'x', '1795000000000000'), id);
    // Pinned: the ID must not change between releases, consumers deduplicate on it.
    assert.equal(id, 'c7cb2274-1b19-8a18-8ffc-627698a94f11');
    assert.equal(eventIdFor('user-disabled', 'p', 'x', 42), eventIdFor('user-disabled', 'p', 'x', '42'));
  });

  it('separates parts unambiguously', () => {
    const ids = new Set([
      eventIdFor('a/b', 'c'),
      eventIdFor('a', 'b/c'),
      eventIdFor('a', 'b', 'c'),
      eventIdFor('abc'),
      eventIdFor('ab', 'c'),
      eventIdFor('a', 'bc'),
      eventIdFor('', 'abc'),
    ]);
    assert.equal(ids.size, 7);
  });

  it('gives distinct IDs for distinct versions', () => {
    const ids = new Set(Array.from({ length: 1000 }, (_, i) => eventIdFor('p', 'x', i)));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, UUID_V8);
  });

  it('rejects no parts and non-finite numbers', () => {
    assert.throws(
      () => eventIdFor(),
      (e) => isDirstreamError(e, 'EVENT_ID_INVALID'),
    );
    assert.throws(
      () => eventIdFor('a', Number.NaN),
      (e) => isDirstreamError(e, 'EVENT_ID_INVALID'),
    );
  });
});

describe('nextVersion', () => {
  const now = 1_795_000_000_000;
  const cases: Array<[string, number | null, number, number]> = [
    ['first version comes from the clock', null, now, now * 1000],
    ['clock ahead of previous', 5, now, now * 1000],
    ['previous ahead of clock (same millisecond)', now * 1000, now, now * 1000 + 1],
    ['previous far ahead (clock went back)', now * 1000 + 500_000, now - 10, now * 1000 + 500_001],
    ['state lost: previous null again still above old versions', null, now + 1, (now + 1) * 1000],
    ['epoch', null, 0, 0],
  ];
  for (const [name, previous, nowMs, expected] of cases) {
    it(name, () => assert.equal(nextVersion(previous, nowMs), expected));
  }

  it('grows strictly over many calls in one millisecond', () => {
    let version: number | null = null;
    for (let i = 0; i < 5000; i++) {
      const next = nextVersion(version, now);
      if (version !== null) assert.ok(next > version);
      version = next;
    }
    assert.equal(versionTimeMs(version!), now + 4);
  });

  it('rejects invalid input', () => {
    const invalid = (e: unknown) => isDirstreamError(e, 'EVENT_VERSION_INVALID');
    assert.throws(() => nextVersion(null, -1), invalid);
    assert.throws(() => nextVersion(null, 1.5), invalid);
    assert.throws(() => nextVersion(-1, now), invalid);
    assert.throws(() => nextVersion(Number.MAX_SAFE_INTEGER, now), invalid);
    assert.throws(() => nextVersion(null, Number.MAX_SAFE_INTEGER), invalid);
  });
});

describe('topicNames', () => {
  it('defaults to the dirstream prefix', () => {
    assert.deepEqual(topicNames(), {
      users: 'dirstream.users',
      groups: 'dirstream.groups',
      memberships: 'dirstream.memberships',
      syncRuns: 'dirstream.sync-runs',
      userLifecycle: 'dirstream.user-lifecycle',
      deadLetters: 'dirstream.dead-letters',
      authEvents: 'dirstream.auth-events',
      runDetails: 'dirstream.run-details',
    });
  });

  it('uses the prefix and maps topics back to record types', () => {
    const names = topicNames('t-1_x');
    assert.equal(names.userLifecycle, 't-1_x.user-lifecycle');
    assert.equal(recordTypeOfTopic('t-1_x.memberships', 't-1_x'), 'membership-event');
    assert.equal(recordTypeOfTopic('dirstream.memberships', 't-1_x'), undefined);
  });

  it('rejects illegal prefixes', () => {
    for (const prefix of ['', 'a b', 'a/b', 'ü', 'x'.repeat(240)]) {
      assert.throws(
        () => topicNames(prefix),
        (e) => isDirstreamError(e, 'EVENT_TOPIC_PREFIX_INVALID'),
      );
    }
  });
});
