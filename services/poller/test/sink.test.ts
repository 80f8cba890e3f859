import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCodec, type MembershipEvent, topicNames } from '@dirstream/events';
import { toRecords } from '../src/delivery/sink.ts';
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
    assert.deepEqual(batch?.messages.map((m) => [m.key, m.value === null ? null : codec.decode('membership-event', m.value as Buffer).op]), [
      ['p/g/a', 'added'],
      ['p/g/b', 'removed'],
      ['p/g/b', null],
    ]);
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
