/**
 * Convergence oracle: a seeded random sequence of directory operations against the real slapd,
 * delta and full passes mixed (`dirstream poller --once [--full]`, then `dirstream applier
 * --until-caught-up`); after every sync the database must equal the model built from a plain
 * `ldapsearch` of the directory (test/support/oracle.ts).
 *
 * DIRSTREAM_ORACLE_SEED=<n> replays a run; DIRSTREAM_ORACLE_OPS / DIRSTREAM_ORACLE_SYNCS make it
 * longer. On a mismatch the failure names the seed, the sync and the first difference.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Attribute, Change } from 'ldapts';
import {
  annotate,
  comparableDn,
  createModel,
  describeState,
  firstDifference,
  readDatabase,
  snapshotDirectory,
  waitForRefint,
} from '../support/oracle.ts';
import { createPipeline, describeResult, type Pipeline } from '../support/pipeline.ts';

const SEED = Number(process.env.DIRSTREAM_ORACLE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPERATIONS = Number(process.env.DIRSTREAM_ORACLE_OPS ?? 48);
const SYNCS = Number(process.env.DIRSTREAM_ORACLE_SYNCS ?? 6);

/** mulberry32: small, seedable, good enough to pick operations. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let pipeline: Pipeline;
before(async () => {
  console.log(`# oracle seed ${SEED} (replay with DIRSTREAM_ORACLE_SEED=${SEED})`);
  pipeline = await createPipeline({
    label: 'oracle',
    profile: { users: { disabledFilter: '(employeeType=inactive)' }, policies: { conflictPolicy: 'skip' } },
  });
});
after(async () => {
  await pipeline?.cleanup();
});

test(`directory → database converges after every sync (seed ${SEED})`, async () => {
  const rnd = random(SEED);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rnd() * values.length)] as T;
  const chance = (p: number) => rnd() < p;
  const { ldap } = pipeline;
  const client = ldap.client;
  const adminDn = pipeline.infra.openldap.adminDn;
  const attic = `ou=attic,${ldap.baseDn}`;
  const peopleOus = [ldap.peopleDn, `ou=sales,${ldap.peopleDn}`, `ou=eng,${ldap.peopleDn}`];
  for (const dn of [attic, ...peopleOus.slice(1)]) {
    await client.add(dn, { objectClass: ['top', 'organizationalUnit'], ou: /^ou=([^,]+)/.exec(dn)?.[1] ?? 'x' });
  }

  // The driver's view of the directory (DNs only; member values are read back when needed).
  const live: string[] = [];
  const outside: string[] = [];
  const groups: string[] = [];
  let serial = 0;
  let synced = false;
  const journal: string[] = [];
  const note = (line: string) => journal.push(line);
  const rdnValue = (dn: string) => /^[^=]+=([^,]+)/.exec(dn)?.[1] ?? '';
  const parentOf = (dn: string) => dn.slice(dn.indexOf(',') + 1);
  const replaceIn = (list: string[], from: string, to: string | null) => {
    const i = list.indexOf(from);
    if (i >= 0) {
      if (to === null) list.splice(i, 1);
      else list[i] = to;
    }
  };
  const membersOf = async (groupDn: string): Promise<string[]> => {
    const { searchEntries } = await client.search(groupDn, { scope: 'base', attributes: ['member'] });
    const member = searchEntries[0]?.member ?? [];
    return (Array.isArray(member) ? member : [member]).map(String);
  };
  const memberChange = (operation: 'add' | 'delete', dn: string) =>
    new Change({ operation, modification: new Attribute({ type: 'member', values: [dn] }) });

  const addUser = async (uid = `u${++serial}`) => {
    const attributes: Record<string, string | string[]> = { cn: `Person ${uid}` };
    if (chance(0.5)) attributes.displayName = `Display ${uid}`;
    if (chance(0.2)) attributes.employeeType = 'inactive';
    const dn = await ldap.addUser(uid, attributes, pick(peopleOus));
    live.push(dn);
    note(`add ${dn}${attributes.employeeType ? ' (inactive)' : ''}`);
  };
  const addGroup = async () => {
    const cn = `g${++serial}`;
    const members = [adminDn, ...live.filter(() => chance(0.3)), ...groups.filter(() => chance(0.2))];
    const dn = await ldap.addGroup(cn, members);
    groups.push(dn);
    note(`add group ${dn} with ${members.length - 1} members`);
  };

  type Op = { name: string; weight: number; when: () => boolean; run: () => Promise<void> };
  const ops: Op[] = [
    { name: 'add user', weight: 8, when: () => true, run: () => addUser() },
    {
      name: 'modify user',
      weight: 6,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const change = pick(['cn', 'displayName', 'no displayName', 'mail'] as const);
        const values: Record<string, string | string[] | null> =
          change === 'cn'
            ? { cn: `Renamed ${++serial}` }
            : change === 'displayName'
              ? { displayName: `Shown ${++serial}` }
              : change === 'no displayName'
                ? { displayName: [] }
                : { mail: `m${++serial}@example.test` };
        await ldap.modify(dn, values);
        note(`modify ${dn} ${change}`);
      },
    },
    {
      name: 'rename user (modrdn)',
      weight: 4,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const next = `uid=r${++serial},${parentOf(dn)}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, next);
        note(`rename ${dn} → ${next}`);
      },
    },
    {
      name: 'move user to another OU',
      weight: 4,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const target = pick(peopleOus.filter((ou) => comparableDn(ou) !== comparableDn(parentOf(dn))));
        const next = `uid=${rdnValue(dn)},${target}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, next);
        note(`move ${dn} → ${next}`);
      },
    },
    {
      name: 'move user out of the users base',
      weight: 2,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const next = `uid=${rdnValue(dn)},${attic}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, null);
        outside.push(next);
        note(`move out ${dn} → ${next}`);
      },
    },
    {
      name: 'move user back in',
      weight: 2,
      when: () => outside.length > 0,
      run: async () => {
        const dn = pick(outside);
        const next = `uid=${rdnValue(dn)},${pick(peopleOus)}`;
        await client.modifyDN(dn, next);
        replaceIn(outside, dn, null);
        live.push(next);
        note(`move back ${dn} → ${next}`);
      },
    },
    {
      name: 'delete user',
      weight: 3,
      when: () => live.length + outside.length > 2,
      run: async () => {
        const fromOutside = outside.length > 0 && chance(0.2);
        const dn = pick(fromOutside ? outside : live);
        await client.del(dn);
        replaceIn(fromOutside ? outside : live, dn, null);
        note(`delete ${dn}`);
      },
    },
    {
      name: 'disable / enable user',
      weight: 6,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const { searchEntries } = await client.search(dn, { scope: 'base', attributes: ['employeeType'] });
        const inactive = String(searchEntries[0]?.employeeType ?? '') === 'inactive';
        await ldap.modify(dn, { employeeType: inactive ? [] : 'inactive' });
        note(`${inactive ? 'enable' : 'disable'} ${dn}`);
      },
    },
    {
      name: 'membership add',
      weight: 6,
      when: () => groups.length > 0 && live.length > 0,
      run: async () => {
        const group = pick(groups);
        const members = new Set((await membersOf(group)).map(comparableDn));
        const candidates = live.filter((dn) => !members.has(comparableDn(dn)));
        if (candidates.length === 0) return;
        const dn = pick(candidates);
        await client.modify(group, [memberChange('add', dn)]);
        note(`member add ${dn} → ${group}`);
      },
    },
    {
      name: 'membership remove',
      weight: 5,
      when: () => groups.length > 0,
      run: async () => {
        const group = pick(groups);
        // The refint placeholder (the admin DN) stays: groupOfNames needs one member.
        const members = (await membersOf(group)).filter((dn) => comparableDn(dn) !== comparableDn(adminDn));
        if (members.length === 0) return;
        const dn = pick(members);
        await client.modify(group, [memberChange('delete', dn)]);
        note(`member remove ${dn} from ${group}`);
      },
    },
    {
      name: 'nested group change',
      weight: 4,
      when: () => groups.length > 1,
      run: async () => {
        const group = pick(groups);
        const child = pick(groups.filter((g) => g !== group));
        const members = new Set((await membersOf(group)).map(comparableDn));
        const operation = members.has(comparableDn(child)) ? 'delete' : 'add';
        await client.modify(group, [memberChange(operation, child)]);
        note(`nested ${operation} ${child} in ${group}`);
      },
    },
    { name: 'add group', weight: 2, when: () => true, run: addGroup },
    {
      name: 'rename group',
      weight: 1,
      when: () => groups.length > 0,
      run: async () => {
        const dn = pick(groups);
        const next = `cn=h${++serial},${parentOf(dn)}`;
        await client.modifyDN(dn, next);
        replaceIn(groups, dn, next);
        note(`rename group ${dn} → ${next}`);
      },
    },
    {
      name: 'delete group',
      weight: 1,
      when: () => groups.length > 2,
      run: async () => {
        const dn = pick(groups);
        await client.del(dn);
        replaceIn(groups, dn, null);
        note(`delete group ${dn}`);
      },
    },
    {
      name: 'conflicting local account',
      weight: 2,
      // The applier creates the users table on its first run.
      when: () => synced,
      run: async () => {
        const uid = `c${++serial}`;
        const local = chance(0.5) ? uid.toUpperCase() : uid;
        await pipeline.query(`insert into users (source, login_name, display_name) values ('local', $1, $2)`, [local, `Local ${local}`]);
        note(`local account ${local}`);
        await addUser(uid);
      },
    },
  ];
  // The directory must be well defined before the next operation: refint finishes its rewrite of
  // the groups (a group renamed before that would keep a dangling value; test/e2e/delta-memberships
  // covers reading during the rewrite).
  const settle = () =>
    waitForRefint({ url: pipeline.infra.openldap.url, bindDn: adminDn, passwordFile: pipeline.passwordFile, baseDn: ldap.baseDn, placeholders: [adminDn] });
  const rewrites = new Set(['rename user (modrdn)', 'move user to another OU', 'move user out of the users base', 'move user back in', 'delete user', 'rename group', 'delete group']);
  for (const op of ops) {
    if (!rewrites.has(op.name)) continue;
    const run = op.run;
    op.run = async () => {
      await run();
      await settle();
    };
  }
  const totalWeight = ops.reduce((sum, op) => sum + op.weight, 0);
  const randomOp = (): Op => {
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
  };

  const model = createModel();
  const sync = async (index: number, full: boolean) => {
    const args = full ? ['--full'] : [];
    const polled = await pipeline.runPoller(args);
    assert.equal(polled.code, 0, `seed ${SEED}, sync ${index}: poller --once ${args.join(' ')} failed\n${describeResult(polled)}`);
    await pipeline.applyUntilCaughtUp();
    const snapshot = await snapshotDirectory({
      url: pipeline.infra.openldap.url,
      bindDn: adminDn,
      passwordFile: pipeline.passwordFile,
      usersBaseDn: ldap.peopleDn,
      groupsBaseDn: ldap.groupsDn,
    });
    const locals = await pipeline.query<{ login_name: string }>(`select login_name from users where source = 'local'`);
    model.observe(snapshot, new Set(locals.map((r) => r.login_name)));
    const expected = model.expected();
    const actual = await readDatabase(pipeline.query, pipeline.profileId);
    const difference = firstDifference(expected, actual);
    note(`-- sync ${index} (${full ? 'full' : 'delta'})`);
    console.log(`# sync ${index} (${full ? 'full' : 'delta'}): expected ${describeState(expected)}${difference === null ? ' — equal' : ''}`);
    if (difference !== null) {
      assert.fail(
        `seed ${SEED}, sync ${index} (${full ? 'full' : 'delta'} pass): the database differs from the directory model\n` +
          `first difference: ${annotate(difference, snapshot, expected)}\nlast operations:\n  ${journal.slice(-40).join('\n  ')}\n` +
          `replay: DIRSTREAM_ORACLE_SEED=${SEED} node_modules/.bin/node --test test/e2e/oracle.test.ts`,
      );
    }
  };

  // The initial directory, then the first (always full) sync.
  for (let i = 0; i < 10; i++) await addUser();
  for (let i = 0; i < 3; i++) await addGroup();
  await sync(0, true);
  synced = true;

  const perSync = Math.ceil(OPERATIONS / SYNCS);
  let done = 0;
  for (let s = 1; s <= SYNCS; s++) {
    for (let i = 0; i < perSync && done < OPERATIONS; i++, done++) await randomOp().run();
    // Mixed passes: deltas, with a full pass every third sync and at random.
    const full = s % 3 === 0 || chance(0.2);
    await sync(s, full);
  }
  // A last delta with no change must leave everything as it is.
  await sync(SYNCS + 1, false);
});
