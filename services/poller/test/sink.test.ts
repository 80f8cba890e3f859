import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCodec, type MembershipEvent, topicNames, type UserEvent } from '@dirstream/events';
import { splitOversized, toRecords } from '../src/delivery/sink.ts';
import { lookahead } from '../src/directory/lookahead.ts';

const source = { profileId: 'p', directoryType: 'openldap', server: 'ldap://x', position: null, runId: 'r', mode: 'full' } as const;
const edge = (op: 'added' | 'removed', memberId: string): MembershipEvent => ({
  eventId: `e-${op}-${memberId}`,
  op,
  profileId: 'p',
  groupId: 'g',
  memberId,
  memberType: 'user',
  version: 1,
  source,
  times: { changedAt: null, observedAt: 1, emittedAt: 1 },
});

describe('toRecords', () => {
  it('a removed membership is its event, then a tombstone on the same key', () => {
    const topics = topicNames('t');
    const codec = createCodec();
    const records = toRecords({ users: [], groups: [], memberships: [edge('added', 'a'), edge('removed', 'b')] }, topics, codec);
    assert.equal(records.length, 1);
    const [batch] = records;
    assert.equal(batch?.topic, 't.memberships');
    assert.deepEqual(
      batch?.messages.map((m) => [m.key, m.value === null ? null : codec.decode('membership-event', m.value as Buffer).op]),
      [
        ['p/g/a', 'added'],
        ['p/g/b', 'removed'],
        ['p/g/b', null],
      ],
    );
  });
});

describe('splitOversized', () => {
  const user = (externalId: string, notes: string): UserEvent => ({
    eventId: `u-${externalId}`,
    op: 'created',
    profileId: 'p',
    externalId,
    version: 1,
    state: {
      externalId,
      sid: null,
      sidHistory: [],
      dn: `uid=${externalId},ou=people,dc=x`,
      loginName: externalId,
      displayName: externalId,
      givenName: null,
      surname: null,
      emails: [],
      phone: null,
      title: null,
      company: null,
      userPrincipalName: null,
      enabled: true,
      disabledReason: null,
      attributes: { notes: [notes] },
    },
    changed: [],
    rename: null,
    source,
    times: { changedAt: null, observedAt: 1, emittedAt: 1 },
  });

  it('leaves out the events above the limit, reports them with DN and size, and keeps the rest', () => {
    const codec = createCodec();
    const small = user('small', 'x');
    const big = user('big', 'y'.repeat(5_000));
    const out = splitOversized({ users: [small, big], groups: [], memberships: [edge('added', 'a')] }, codec, 2_000);
    assert.deepEqual(
      out.batch.users.map((e) => e.externalId),
      ['small'],
    );
    assert.equal(out.batch.memberships.length, 1);
    assert.equal(out.rejected.length, 1);
    assert.equal(out.rejected[0]?.kind, 'user');
    assert.equal(out.rejected[0]?.dn, 'uid=big,ou=people,dc=x');
    assert.ok((out.rejected[0]?.bytes ?? 0) > 5_000);
    assert.equal(out.rejected[0]?.limit, 2_000);
    // The values measured are the values sent (encoded once).
    const records = toRecords(out.batch, topicNames('t'), codec, out.encoded);
    assert.equal(records[0]?.messages[0]?.value, out.encoded.get(small));
  });
  it('keeps everything at or under the limit', () => {
    const codec = createCodec();
    const out = splitOversized({ users: [user('a', 'x')], groups: [], memberships: [] }, codec, 1_000_000);
    assert.equal(out.rejected.length, 0);
    assert.equal(out.batch.users.length, 1);
  });
});

describe('lookahead', () => {
  it('yields every page in order and asks for the next one early', async () => {
    const asked: number[] = [];
    async function* pages() {
      for (let i = 0; i < 3; i++) {
        asked.push(i);
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const page of lookahead(pages())) {
      seen.push(page);
      assert.ok(asked.length >= Math.min(3, page + 2), 'the next page was requested before this one was consumed');
    }
    assert.deepEqual(seen, [0, 1, 2]);
  });
  it('a failing prefetch surfaces on the next iteration, not as an unhandled rejection', async () => {
    async function* pages() {
      yield 1;
      throw new Error('connection lost');
    }
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const page of lookahead(pages())) {
        await new Promise((r) => setTimeout(r, 20));
        seen.push(page);
      }
    }, /connection lost/);
    assert.deepEqual(seen, [1]);
  });
});
