/**
 * The role-binding rule (core/role-bindings.ts), table-style: each row states the bindings before
 * a pass, the state after it and the bindings expected, written out by hand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRoleBindings } from '../src/core/role-bindings.ts';

type Row = {
  readonly title: string;
  readonly names: string[];
  readonly bound: Record<string, string>;
  readonly present: string[];
  readonly carriers: Record<string, string[]>;
  readonly expected: Record<string, string>;
  readonly ambiguous?: string[];
  readonly changed: Record<string, string[]>;
};

const ROWS: Row[] = [
  {
    title: 'an unbound name binds to the one group carrying it',
    names: ['admins'],
    bound: {},
    present: [],
    carriers: { admins: ['g1'] },
    expected: { admins: 'g1' },
    changed: { g1: ['admins'] },
  },
  {
    title: 'a bound name stays with its group after a rename, a new carrier gets nothing',
    names: ['admins'],
    bound: { admins: 'g1' },
    present: ['g1'],
    carriers: { admins: ['g2'] },
    expected: { admins: 'g1' },
    changed: {},
  },
  {
    title: 'the bound group removed while another is renamed to the name (one pass): the other binds',
    names: ['admins'],
    bound: { admins: 'g1' },
    present: [],
    carriers: { admins: ['g2'] },
    expected: { admins: 'g2' },
    changed: { g1: [], g2: ['admins'] },
  },
  {
    title: 'the bound group removed while the other carrier is renamed away (seed 599961736): unbound',
    names: ['team-lead'],
    bound: { 'team-lead': 'g1' },
    present: [],
    carriers: {},
    expected: {},
    changed: { g1: [] },
  },
  {
    title: 'two carriers before the name was bound: ambiguous, nobody',
    names: ['ops'],
    bound: {},
    present: [],
    carriers: { ops: ['g2', 'g1'] },
    expected: {},
    ambiguous: ['ops'],
    changed: {},
  },
  {
    title: 'a name no longer configured is released; one group may hold several names',
    names: ['staff', 'admins'],
    bound: { old: 'g1', staff: 'g1' },
    present: ['g1'],
    carriers: { admins: ['g1'] },
    expected: { admins: 'g1', staff: 'g1' },
    changed: { g1: ['admins', 'staff'] },
  },
];

describe('role bindings: one decision per pass', () => {
  for (const row of ROWS) {
    it(row.title, () => {
      const decision = decideRoleBindings({
        names: row.names,
        bound: new Map(Object.entries(row.bound)),
        present: new Set(row.present),
        carriers: new Map(Object.entries(row.carriers)),
      });
      assert.deepEqual(Object.fromEntries(decision.bound), row.expected);
      assert.deepEqual(
        decision.ambiguous.map((a) => a.name),
        row.ambiguous ?? [],
      );
      assert.deepEqual(Object.fromEntries(decision.changed), row.changed);
    });
  }
});
