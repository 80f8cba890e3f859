/**
 * The convergence oracle, shorter, against the Samba AD DC: a seeded random sequence of AD
 * operations (add, modify, CN rename, sAMAccountName change, move, move out of the users base and
 * back, delete → tombstone, disable/enable via userAccountControl, membership and nested group
 * changes, conflicting local accounts), delta (uSNChanged) and full passes mixed; after each sync
 * the database equals the model built from a plain `ldapsearch` of the OU (test/support/oracle.ts,
 * dialect active-directory: objectGUID decoded here, not by the poller).
 *
 * ldapsearch reaches the DC at ldaps://127.0.0.1 with Samba's CA, but the certificate names only
 * DC1.dirstream.test, so its peer-name check is relaxed (LDAPTLS_REQCERT=allow) for this loopback
 * read; the product itself verifies the name (connection.tls.serverName).
 *
 * DIRSTREAM_ORACLE_SEED=<n> replays; skipped when the infrastructure has no Samba DC.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { loadInfra, uniquePrefix } from '@dirstream/testing';
import { Attribute, Change, Client, Control } from 'ldapts';
import type { SambaEndpoints } from '../../infra/local/samba.ts';
import { unicodePwd } from '../../infra/sample/ad-fixture.ts';
import { annotate, comparableDn, createModel, describeState, firstDifference, readDatabase, snapshotDirectory } from '../support/oracle.ts';
import { createPipeline, describeResult, type Pipeline } from '../support/pipeline.ts';

const SEED = Number(process.env.DIRSTREAM_ORACLE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPERATIONS = Number(process.env.DIRSTREAM_ORACLE_AD_OPS ?? 30);
const SYNCS = Number(process.env.DIRSTREAM_ORACLE_AD_SYNCS ?? 4);
const infra = loadInfra();
const samba = infra.samba as SambaEndpoints | undefined;

/** LDAP_SERVER_TREE_DELETE: removes the test OU with everything below it. */
class TreeDeleteControl extends Control {
  constructor() {
    super('1.2.840.113556.1.4.805', { critical: true });
  }
}

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
let client: Client;
let ouDn = '';

before(async () => {
  if (!samba) return;
  console.log(`# AD oracle seed ${SEED} (replay with DIRSTREAM_ORACLE_SEED=${SEED})`);
  client = new Client({ url: samba.url, timeout: 60_000, connectTimeout: 5_000, tlsOptions: { ca: [readFileSync(samba.caFile)], servername: samba.serverName } });
  await client.bind(samba.adminDn, samba.adminPassword);
  const name = uniquePrefix('oracle-ad');
  ouDn = `OU=${name},${samba.baseDn}`;
  for (const [dn, ou] of [
    [ouDn, name],
    [`OU=people,${ouDn}`, 'people'],
    [`OU=sales,OU=people,${ouDn}`, 'sales'],
    [`OU=attic,${ouDn}`, 'attic'],
    [`OU=groups,${ouDn}`, 'groups'],
  ] as const) {
    await client.add(dn, { objectClass: ['top', 'organizationalUnit'], ou });
  }
  pipeline = await createPipeline({
    label: 'oracle-ad',
    directory: {
      type: 'active-directory',
      urls: [samba.url],
      tls: { caFile: samba.caFile, serverName: samba.serverName },
      bindDn: samba.adminDn,
      bindPassword: samba.adminPassword,
      pageSize: 1000,
    },
    profile: { users: { baseDn: `OU=people,${ouDn}` }, groups: { baseDn: `OU=groups,${ouDn}` }, policies: { conflictPolicy: 'skip' } },
  });
});
after(async () => {
  await pipeline?.cleanup();
  if (client) {
    if (ouDn !== '') await client.del(ouDn, new TreeDeleteControl()).catch(() => undefined);
    await client.unbind().catch(() => undefined);
  }
});

test(`Active Directory → database converges after every sync (seed ${SEED})`, { skip: !samba && 'no Samba AD DC in infra.json' }, async () => {
  assert.ok(samba);
  const rnd = random(SEED);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rnd() * values.length)] as T;
  const chance = (p: number) => rnd() < p;
  const tag = ouDn.slice(3, ouDn.indexOf(',')).slice(-6);
  const people = `OU=people,${ouDn}`;
  const peopleOus = [people, `OU=sales,${people}`];
  const groupsDn = `OU=groups,${ouDn}`;
  const attic = `OU=attic,${ouDn}`;
  const realm = samba.realm.toLowerCase();
  const live: string[] = [];
  const outside: string[] = [];
  const groups: string[] = [];
  let serial = 0;
  let synced = false;
  const journal: string[] = [];
  const note = (line: string) => journal.push(line);
  const parentOf = (dn: string) => dn.slice(dn.indexOf(',') + 1);
  const cnOf = (dn: string) => /^CN=([^,]+)/i.exec(dn)?.[1] ?? '';
  const replaceIn = (list: string[], from: string, to: string | null) => {
    const i = list.indexOf(from);
    if (i >= 0) {
      if (to === null) list.splice(i, 1);
      else list[i] = to;
    }
  };
  const change = (operation: 'add' | 'delete' | 'replace', type: string, values: readonly string[]) =>
    new Change({ operation, modification: new Attribute({ type, values: [...values] }) });
  // sAMAccountName is unique in the domain and at most 20 characters: tag it with this OU.
  const login = (name: string) => `${name}.${tag}`;
  const membersOf = async (groupDn: string): Promise<string[]> => {
    const { searchEntries } = await client.search(groupDn, { scope: 'base', attributes: ['member'] });
    const member = searchEntries[0]?.member ?? [];
    return (Array.isArray(member) ? member : [member]).map(String);
  };

  const addUser = async (name = `u${++serial}`) => {
    const dn = `CN=${name},${pick(peopleOus)}`;
    const disabled = chance(0.2);
    const attributes: Attribute[] = [
      new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
      new Attribute({ type: 'cn', values: [name] }),
      new Attribute({ type: 'sAMAccountName', values: [login(name)] }),
      new Attribute({ type: 'userPrincipalName', values: [`${login(name)}@${realm}`] }),
      new Attribute({ type: 'userAccountControl', values: [disabled ? '514' : '512'] }),
      new Attribute({ type: 'unicodePwd', values: [unicodePwd('Oracle-Passw0rd!')] }),
    ];
    if (chance(0.5)) attributes.push(new Attribute({ type: 'displayName', values: [`Display ${name}`] }));
    await client.add(dn, attributes);
    live.push(dn);
    note(`add ${dn}${disabled ? ' (disabled)' : ''}`);
  };
  const addGroup = async () => {
    const cn = `g${++serial}`;
    const dn = `CN=${cn},${groupsDn}`;
    const members = [...live.filter(() => chance(0.3)), ...groups.filter(() => chance(0.2))];
    await client.add(dn, { objectClass: ['top', 'group'], cn, sAMAccountName: `${cn}.${tag}`, ...(members.length > 0 ? { member: members } : {}) });
    groups.push(dn);
    note(`add group ${dn} with ${members.length} members`);
  };

  type Op = { name: string; weight: number; when: () => boolean; run: () => Promise<void> };
  const ops: Op[] = [
    { name: 'add user', weight: 6, when: () => true, run: () => addUser() },
    {
      name: 'modify user',
      weight: 4,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const shown = chance(0.6);
        await client.modify(dn, [change('replace', 'displayName', shown ? [`Shown ${++serial}`] : [])]);
        note(`modify ${dn} ${shown ? 'displayName' : 'no displayName'}`);
      },
    },
    {
      name: 'change login',
      weight: 2,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        await client.modify(dn, [change('replace', 'sAMAccountName', [login(`l${++serial}`)])]);
        note(`login change ${dn}`);
      },
    },
    {
      name: 'rename user (CN)',
      weight: 3,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const next = `CN=r${++serial},${parentOf(dn)}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, next);
        note(`rename ${dn} → ${next}`);
      },
    },
    {
      name: 'move user',
      weight: 3,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const target = peopleOus.find((ou) => comparableDn(ou) !== comparableDn(parentOf(dn))) as string;
        const next = `CN=${cnOf(dn)},${target}`;
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
        const next = `CN=${cnOf(dn)},${attic}`;
        await client.modifyDN(dn, next);
        replaceIn(live, dn, null);
        outside.push(next);
        note(`move out ${dn}`);
      },
    },
    {
      name: 'move user back in',
      weight: 2,
      when: () => outside.length > 0,
      run: async () => {
        const dn = pick(outside);
        const next = `CN=${cnOf(dn)},${pick(peopleOus)}`;
        await client.modifyDN(dn, next);
        replaceIn(outside, dn, null);
        live.push(next);
        note(`move back ${next}`);
      },
    },
    {
      name: 'delete user',
      weight: 2,
      when: () => live.length > 2,
      run: async () => {
        const dn = pick(live);
        await client.del(dn);
        replaceIn(live, dn, null);
        note(`delete ${dn}`);
      },
    },
    {
      name: 'disable / enable user',
      weight: 5,
      when: () => live.length > 0,
      run: async () => {
        const dn = pick(live);
        const { searchEntries } = await client.search(dn, { scope: 'base', attributes: ['userAccountControl'] });
        const disabled = (Number(searchEntries[0]?.userAccountControl ?? 512) & 2) !== 0;
        await client.modify(dn, [change('replace', 'userAccountControl', [disabled ? '512' : '514'])]);
        note(`${disabled ? 'enable' : 'disable'} ${dn}`);
      },
    },
    {
      name: 'membership add / remove',
      weight: 5,
      when: () => groups.length > 0 && live.length > 0,
      run: async () => {
        const group = pick(groups);
        const members = new Set((await membersOf(group)).map(comparableDn));
        const dn = pick(live);
        const operation = members.has(comparableDn(dn)) ? 'delete' : 'add';
        await client.modify(group, [change(operation, 'member', [dn])]);
        note(`member ${operation} ${dn} ${group}`);
      },
    },
    {
      name: 'nested group change',
      weight: 3,
      when: () => groups.length > 1,
      run: async () => {
        const group = pick(groups);
        const child = pick(groups.filter((g) => g !== group));
        const members = new Set((await membersOf(group)).map(comparableDn));
        const operation = members.has(comparableDn(child)) ? 'delete' : 'add';
        await client.modify(group, [change(operation, 'member', [child])]);
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
        const next = `CN=h${++serial},${groupsDn}`;
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
      when: () => synced,
      run: async () => {
        const name = `c${++serial}`;
        const local = chance(0.5) ? login(name).toUpperCase() : login(name);
        await pipeline.query(`insert into users (source, login_name, display_name) values ('local', $1, $2)`, [local, `Local ${local}`]);
        note(`local account ${local}`);
        await addUser(name);
      },
    },
  ];
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
    note(`-- sync ${index} (${full ? 'full' : 'delta'})`);
    const polled = await pipeline.runPoller(full ? ['--full'] : []);
    assert.equal(polled.code, 0, `seed ${SEED}, sync ${index}: the poller failed\n${describeResult(polled)}`);
    await pipeline.applyUntilCaughtUp();
    const snapshot = await snapshotDirectory({
      url: samba.url,
      bindDn: samba.adminDn,
      passwordFile: pipeline.passwordFile,
      usersBaseDn: people,
      groupsBaseDn: groupsDn,
      dialect: 'active-directory',
      env: { LDAPTLS_CACERT: samba.caFile, LDAPTLS_REQCERT: 'allow' },
    });
    const locals = await pipeline.query<{ login_name: string }>(`select login_name from users where source = 'local'`);
    model.observe(snapshot, new Set(locals.map((r) => r.login_name)));
    const expected = model.expected();
    const difference = firstDifference(expected, await readDatabase(pipeline.query, pipeline.profileId));
    console.log(`# AD sync ${index} (${full ? 'full' : 'delta'}): expected ${describeState(expected)}${difference === null ? ' — equal' : ''}`);
    if (difference !== null) {
      assert.fail(
        `seed ${SEED}, AD sync ${index} (${full ? 'full' : 'delta'} pass): the database differs from the directory model\n` +
          `first difference: ${annotate(difference, snapshot, expected)}\nlast operations:\n  ${journal.slice(-30).join('\n  ')}\n` +
          `replay: DIRSTREAM_ORACLE_SEED=${SEED} node_modules/.bin/node --test test/e2e/oracle-ad.test.ts`,
      );
    }
  };

  for (let i = 0; i < 6; i++) await addUser();
  for (let i = 0; i < 2; i++) await addGroup();
  await sync(0, true);
  synced = true;
  const perSync = Math.ceil(OPERATIONS / SYNCS);
  let done = 0;
  for (let s = 1; s <= SYNCS; s++) {
    for (let i = 0; i < perSync && done < OPERATIONS; i++, done++) await randomOp().run();
    await sync(s, s % 3 === 0 || chance(0.2));
  }
  await sync(SYNCS + 1, false);
});
