import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunDetailEvent } from '@dirstream/events';
import { planRunDetails, validateRunDetail } from '../src/plan.ts';

const PROFILE = '00000000-0000-4000-8000-0000000000aa';
const page = (over: Partial<RunDetailEvent>): RunDetailEvent => ({
  eventId: 'e',
  runId: 'run-1',
  profileId: PROFILE,
  kind: 'entry-errors',
  page: 0,
  last: false,
  entryErrors: [],
  wouldDisable: [],
  emittedAt: 0,
  ...over,
});

describe('planRunDetails', () => {
  it('one row per item, keyed by page and position; a page seen twice maps to the same keys', () => {
    const errors = page({
      page: 1,
      entryErrors: [
        { dn: 'cn=a', code: 'X', message: 'm1' },
        { dn: null, code: 'Y', message: 'm2' },
      ],
    });
    const report = page({
      kind: 'would-disable',
      page: 0,
      last: true,
      wouldDisable: [{ externalId: 'u1', loginName: 'ann', dn: 'uid=ann', reason: 'outside-filter' }],
    });
    const plan = planRunDetails([errors, report, errors]);
    assert.deepEqual(
      plan.errors.map((r) => `${r.runId}/${r.page}/${r.position} ${r.code} ${r.dn}`),
      ['run-1/1/0 X cn=a', 'run-1/1/1 Y null', 'run-1/1/0 X cn=a', 'run-1/1/1 Y null'],
    );
    assert.deepEqual(plan.wouldDisable, [
      {
        runId: 'run-1',
        profileId: PROFILE,
        page: 0,
        position: 0,
        externalId: 'u1',
        loginName: 'ann',
        dn: 'uid=ann',
        reason: 'outside-filter',
      },
    ]);
  });

  it('skips a kind it does not know', () => {
    const unknown = page({ kind: 'something-new' as RunDetailEvent['kind'], entryErrors: [{ dn: null, code: 'X', message: 'm' }] });
    assert.deepEqual(planRunDetails([unknown]), { errors: [], wouldDisable: [] });
  });

  it('validates the profile, run ID and page', () => {
    const ctx = { profiles: new Map([[PROFILE, { conflictPolicy: 'skip' as const }]]), announce: true, now: 0 };
    assert.equal(validateRunDetail(page({}), ctx), null);
    assert.equal(validateRunDetail(page({ profileId: 'other' }), ctx)?.code, 'APPLY_UNKNOWN_PROFILE');
    assert.equal(validateRunDetail(page({ runId: '' }), ctx)?.code, 'APPLY_INVALID_EVENT');
    assert.equal(validateRunDetail(page({ page: -1 }), ctx)?.code, 'APPLY_INVALID_EVENT');
  });
});
