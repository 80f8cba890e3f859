import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseMode, decideRun, type SafetyInput } from '../src/core/safety.ts';

const base: SafetyInput = {
  mode: 'full',
  complete: true,
  incompleteReason: null,
  usersRead: 1000,
  usersKnown: 1000,
  enabledBefore: 1000,
  disables: 0,
  maxDisableCount: 100,
  maxDisablePercent: 10,
  allowMassDisable: false,
};

describe('decideRun', () => {
  const cases: [string, Partial<SafetyInput>, 'apply' | 'fail' | 'halt'][] = [
    ['a quiet complete run applies', {}, 'apply'],
    [
      'an incomplete read fails, even when allowed',
      { complete: false, incompleteReason: 'connection lost', allowMassDisable: true },
      'fail',
    ],
    ['zero users where many were known halts', { usersRead: 0, disables: 0 }, 'halt'],
    ['zero users on a first run applies', { usersRead: 0, usersKnown: 0, enabledBefore: 0 }, 'apply'],
    ['zero users read in a delta is normal', { mode: 'delta', usersRead: 0 }, 'apply'],
    ['at the count limit applies', { disables: 100 }, 'apply'],
    ['above the count limit halts', { disables: 101, maxDisablePercent: 100 }, 'halt'],
    ['above the percent limit halts', { disables: 11, enabledBefore: 100, usersKnown: 100 }, 'halt'],
    ['at the percent limit applies', { disables: 10, enabledBefore: 100, usersKnown: 100 }, 'apply'],
    ['allowed mass disable applies', { disables: 900, allowMassDisable: true }, 'apply'],
    ['allowed empty result applies', { usersRead: 0, allowMassDisable: true }, 'apply'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const decision = decideRun({ ...base, ...input });
      assert.equal(decision.action, expected);
      if (decision.action !== 'apply') assert.ok(decision.reason.length > 0);
    });
  }
});

describe('chooseMode', () => {
  const now = 1_000_000_000;
  const cases: [string, Parameters<typeof chooseMode>[0], 'full' | 'delta'][] = [
    [
      'first run is full',
      { forceFull: false, hasDelta: true, cursor: null, lastFullAtMs: null, fullEverySeconds: 3600, nowMs: now },
      'full',
    ],
    ['forced full', { forceFull: true, hasDelta: true, cursor: 'c', lastFullAtMs: now, fullEverySeconds: 3600, nowMs: now }, 'full'],
    [
      'no delta mechanism',
      { forceFull: false, hasDelta: false, cursor: 'c', lastFullAtMs: now, fullEverySeconds: 3600, nowMs: now },
      'full',
    ],
    [
      'recent full → delta',
      { forceFull: false, hasDelta: true, cursor: 'c', lastFullAtMs: now - 1000, fullEverySeconds: 3600, nowMs: now },
      'delta',
    ],
    [
      'periodic full due',
      { forceFull: false, hasDelta: true, cursor: 'c', lastFullAtMs: now - 3_600_000, fullEverySeconds: 3600, nowMs: now },
      'full',
    ],
  ];
  for (const [name, input, expected] of cases) it(name, () => assert.equal(chooseMode(input), expected));
});
