/** Paging of a run's details: every item once, in order, pages bounded, `last` on the final page. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunDetailEvent, UserState } from '@dirstream/events';
import type { UserChange } from '../src/core/types.ts';
import type { EventSink } from '../src/delivery/sink.ts';
import { createRunDetails } from '../src/run/run-details.ts';

function collectingSink(fail = false): { sink: EventSink; pages: RunDetailEvent[] } {
  const pages: RunDetailEvent[] = [];
  return {
    pages,
    sink: {
      async send() {
        return { rejected: [] };
      },
      async sendRun() {},
      async sendRunDetail(event) {
        if (fail) throw new Error('broker gone');
        pages.push(event);
      },
    },
  };
}

const disabling = (login: string): UserChange =>
  ({
    op: 'disabled',
    externalId: `id-${login}`,
    version: 1,
    state: { loginName: login, dn: `uid=${login},ou=people`, disabledReason: 'removed-from-directory' } as UserState,
    changed: ['enabled'],
    rename: null,
    hash: 'h',
    present: false,
    disables: true,
  }) as UserChange;

describe('run details', () => {
  it('450 errors → pages of 200, 200, 50; the last marked; nothing lost or repeated', async () => {
    const { sink, pages } = collectingSink();
    const details = createRunDetails({ sink, profileId: 'p', runId: 'r', pageSize: 200, now: () => 7 });
    for (let i = 0; i < 450; i++) details.entryError({ dn: `cn=e${i}`, code: 'LDAP_ATTRIBUTE_MISSING', message: `no uid ${i}` });
    await details.finish();
    assert.deepEqual(
      pages.map((p) => [p.kind, p.page, p.entryErrors.length, p.last]),
      [
        ['entry-errors', 0, 200, false],
        ['entry-errors', 1, 200, false],
        ['entry-errors', 2, 50, true],
      ],
    );
    const dns = pages.flatMap((p) => p.entryErrors.map((e) => e.dn));
    assert.deepEqual(
      dns,
      Array.from({ length: 450 }, (_, i) => `cn=e${i}`),
    );
    assert.equal(new Set(pages.map((p) => p.eventId)).size, 3, 'one event ID per page');
  });

  it('exactly a page of errors ends with an empty last page; a run without errors sends nothing', async () => {
    const full = collectingSink();
    const a = createRunDetails({ sink: full.sink, profileId: 'p', runId: 'r', pageSize: 3 });
    for (let i = 0; i < 3; i++) a.entryError({ dn: null, code: 'X', message: 'm' });
    await a.finish();
    assert.deepEqual(
      full.pages.map((p) => [p.page, p.entryErrors.length, p.last]),
      [
        [0, 3, false],
        [1, 0, true],
      ],
    );
    const none = collectingSink();
    await createRunDetails({ sink: none.sink, profileId: 'p', runId: 'r' }).finish();
    assert.deepEqual(none.pages, []);
  });

  it('a halted run: every held-back user, in pages', async () => {
    const { sink, pages } = collectingSink();
    const details = createRunDetails({ sink, profileId: 'p', runId: 'r', pageSize: 2 });
    await details.wouldDisable(['ann', 'bob', 'cy'].map(disabling));
    await details.wouldDisable([disabling('dee'), disabling('eve')]);
    await details.finish();
    assert.deepEqual(
      pages.map((p) => [p.kind, p.page, p.wouldDisable.map((u) => u.loginName), p.last]),
      [
        ['would-disable', 0, ['ann', 'bob'], false],
        ['would-disable', 1, ['cy', 'dee'], false],
        ['would-disable', 2, ['eve'], true],
      ],
    );
    assert.deepEqual(pages[0]?.wouldDisable[0], {
      externalId: 'id-ann',
      loginName: 'ann',
      dn: 'uid=ann,ou=people',
      reason: 'removed-from-directory',
    });
  });

  it('a failed produce surfaces at finish', async () => {
    const { sink } = collectingSink(true);
    const details = createRunDetails({ sink, profileId: 'p', runId: 'r', pageSize: 1 });
    details.entryError({ dn: null, code: 'X', message: 'm' });
    await assert.rejects(details.finish(), /broker gone/);
  });
});
