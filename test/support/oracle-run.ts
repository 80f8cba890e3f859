/**
 * The directory-independent half of the convergence oracles (test/e2e/oracle*.test.ts): the seeded
 * driver state, the weighted random choice of operations, and the sync loop — poller pass, applier
 * until caught up, snapshot, model, first difference reported with the seed and the last operations.
 * Each test file brings its directory's operations and how to snapshot it.
 */
import assert from 'node:assert/strict';
import { Attribute, Change, type Client } from 'ldapts';
import { mulberry32 } from '../../infra/sample/generate.ts';
import {
  annotate,
  comparableDn,
  createModel,
  type DirectorySnapshot,
  describeState,
  firstDifference,
  type ModelOptions,
  readDatabase,
} from './oracle.ts';
import { describeResult, type Pipeline } from './pipeline.ts';

/** DIRSTREAM_ORACLE_SEED=<n> replays a run; otherwise a fresh seed. */
export function oracleSeed(): number {
  return Number(process.env.DIRSTREAM_ORACLE_SEED ?? Math.floor(Math.random() * 2 ** 31));
}

export type OracleOp = { readonly name: string; readonly weight: number; readonly when: () => boolean; run: () => Promise<void> };

export type OracleDriver = ReturnType<typeof createDriver>;

/**
 * The driver's view of the directory (DNs only; member values are read back when needed), its
 * seeded random source and the journal of what it did.
 */
export function createDriver(seed: number) {
  const rnd = mulberry32(seed);
  const journal: string[] = [];
  let counter = 0;
  return {
    rnd,
    pick: <T>(values: readonly T[]): T => values[Math.floor(rnd() * values.length)] as T,
    chance: (p: number) => rnd() < p,
    /** A fresh number for names (`u7`, `Renamed 8`). */
    serial: () => ++counter,
    /** Users under the users base, users moved out of it, groups. */
    live: [] as string[],
    outside: [] as string[],
    groups: [] as string[],
    /** True once the first sync ran (the applier creates the users table on its first run). */
    synced: false,
    journal,
    note: (line: string) => {
      journal.push(line);
    },
  };
}

export const parentOf = (dn: string): string => dn.slice(dn.indexOf(',') + 1);

/** Replaces `from` in `list` by `to`, or removes it (`to` null). */
export function replaceIn(list: string[], from: string, to: string | null): void {
  const i = list.indexOf(from);
  if (i >= 0) {
    if (to === null) list.splice(i, 1);
    else list[i] = to;
  }
}

export async function membersOf(client: Client, groupDn: string): Promise<string[]> {
  const { searchEntries } = await client.search(groupDn, { scope: 'base', attributes: ['member'] });
  const member = searchEntries[0]?.member ?? [];
  return (Array.isArray(member) ? member : [member]).map(String);
}

export const rdnValue = (dn: string): string => /^[^=]+=([^,]+)/.exec(dn)?.[1] ?? '';

export const memberChange = (operation: 'add' | 'delete', dn: string): Change =>
  new Change({ operation, modification: new Attribute({ type: 'member', values: [dn] }) });

/**
 * The operations that are the same in every directory but for the RDN attribute of users
 * (`uid`, `CN`) and groups (`cn`, `CN`): renames, moves out of the users base and back, nested
 * group changes, group renames and deletions. Each takes its weight (and the order of the list
 * the test builds keeps a seed replaying the same run).
 */
export function commonOperations(driver: OracleDriver, client: Client, rdn: { readonly user: string; readonly group: string }) {
  const { pick, live, outside, groups, note, serial } = driver;
  return {
    renameUser: (weight: number): OracleOp => ({
      name: 'rename user',
      weight,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const next = `${rdn.user}=r${serial()},${parentOf(dn)}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, next);
        note(`rename ${dn} → ${next}`);
      },
    }),
    moveOut: (weight: number, outsideOu: string): OracleOp => ({
      name: 'move user out of the users base',
      weight,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const next = `${rdn.user}=${rdnValue(dn)},${outsideOu}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, null);
        outside.push(next);
        note(`move out ${dn} → ${next}`);
      },
    }),
    moveBack: (weight: number, userOus: readonly string[]): OracleOp => ({
      name: 'move user back in',
      weight,
      when: () => outside.length > 0,
      run: async () => {
        const dn = pick(outside);
        const next = `${rdn.user}=${rdnValue(dn)},${pick(userOus)}`;
        await client.modifyDN(dn, next);
        replaceIn(outside, dn, null);
        live.push(next);
        note(`move back ${dn} → ${next}`);
      },
    }),
    nestedGroupChange: (weight: number): OracleOp => ({
      name: 'nested group change',
      weight,
      when: () => groups.length > 1,
      run: async () => {
        const group = pick(groups);
        const child = pick(groups.filter((g) => g !== group));
        const members = new Set((await membersOf(client, group)).map(comparableDn));
        const operation = members.has(comparableDn(child)) ? 'delete' : 'add';
        await client.modify(group, [memberChange(operation, child)]);
        note(`nested ${operation} ${child} in ${group}`);
      },
    }),
    renameGroup: (weight: number): OracleOp => ({
      name: 'rename group',
      weight,
      when: () => groups.length > 0,
      run: async () => {
        const dn = pick(groups);
        const next = `${rdn.group}=h${serial()},${parentOf(dn)}`;
        await client.modifyDN(dn, next);
        replaceIn(groups, dn, next);
        note(`rename group ${dn} → ${next}`);
      },
    }),
    deleteGroup: (weight: number): OracleOp => ({
      name: 'delete group',
      weight,
      when: () => groups.length > 2,
      run: async () => {
        const dn = pick(groups);
        await client.del(dn);
        replaceIn(groups, dn, null);
        note(`delete group ${dn}`);
      },
    }),
  };
}

/** Picks an operation by weight among those whose precondition holds. */
export function randomOperation(ops: readonly OracleOp[], rnd: () => number): OracleOp {
  const totalWeight = ops.reduce((sum, op) => sum + op.weight, 0);
  for (;;) {
    let r = rnd() * totalWeight;
    for (const op of ops) {
      r -= op.weight;
      if (r < 0) {
        if (op.when()) return op;
        break;
      }
    }
  }
}

export type OracleRun = {
  readonly seed: number;
  /** `sync` or `AD sync`: names the sync in the log and the failure. */
  readonly syncLabel: string;
  /** The test file, for the replay command. */
  readonly testFile: string;
  readonly pipeline: Pipeline;
  readonly driver: OracleDriver;
  readonly ops: readonly OracleOp[];
  readonly operations: number;
  readonly syncs: number;
  /** Builds the initial directory before the first (always full) sync. */
  readonly initial: () => Promise<void>;
  readonly snapshot: () => Promise<DirectorySnapshot>;
  /** Roles configured for the profile, a server without refint. */
  readonly model?: ModelOptions;
};

/**
 * The initial directory and a full sync, then `syncs` batches of random operations each followed
 * by a sync (a full pass every third sync and at random, deltas otherwise), then a last delta with
 * no change. After every sync the database must equal the model of the directory snapshot.
 */
export async function runOracle(run: OracleRun): Promise<void> {
  const { seed, syncLabel, pipeline, driver } = run;
  const model = createModel(run.model);
  const sync = async (index: number, full: boolean) => {
    const pass = full ? 'full' : 'delta';
    driver.note(`-- sync ${index} (${pass})`);
    const args = full ? ['--full'] : [];
    const polled = await pipeline.runPoller(args);
    assert.equal(polled.code, 0, `seed ${seed}, ${syncLabel} ${index}: poller --once ${args.join(' ')} failed\n${describeResult(polled)}`);
    await pipeline.applyUntilCaughtUp();
    const snapshot = await run.snapshot();
    const locals = await pipeline.query<{ login_name: string }>(`select login_name from users where source = 'local'`);
    model.observe(snapshot, new Set(locals.map((r) => r.login_name)));
    const expected = model.expected();
    const difference = firstDifference(expected, await readDatabase(pipeline.query, pipeline.profileId));
    console.log(`# ${syncLabel} ${index} (${pass}): expected ${describeState(expected)}${difference === null ? ' — equal' : ''}`);
    if (difference !== null) {
      assert.fail(
        `seed ${seed}, ${syncLabel} ${index} (${pass} pass): the database differs from the directory model\n` +
          `first difference: ${annotate(difference, snapshot, expected)}\nlast operations:\n  ${driver.journal.slice(-40).join('\n  ')}\n` +
          `replay: DIRSTREAM_ORACLE_SEED=${seed} node_modules/.bin/node --test ${run.testFile}`,
      );
    }
  };

  await run.initial();
  await sync(0, true);
  driver.synced = true;

  const perSync = Math.ceil(run.operations / run.syncs);
  let done = 0;
  for (let s = 1; s <= run.syncs; s++) {
    for (let i = 0; i < perSync && done < run.operations; i++, done++) await randomOperation(run.ops, driver.rnd).run();
    await sync(s, s % 3 === 0 || driver.chance(0.2));
  }
  // A last delta with no change must leave everything as it is.
  await sync(run.syncs + 1, false);
}
