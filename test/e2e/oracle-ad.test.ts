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
import { comparableDn, snapshotDirectory } from '../support/oracle.ts';
import {
  commonOperations,
  createDriver,
  membersOf,
  type OracleOp,
  oracleSeed,
  parentOf,
  rdnValue,
  replaceIn,
  runOracle,
} from '../support/oracle-run.ts';
import { createPipeline, type Pipeline } from '../support/pipeline.ts';

const SEED = oracleSeed();
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

let pipeline: Pipeline;
let client: Client;
let ouDn = '';

before(async () => {
  if (!samba) return;
  console.log(`# AD oracle seed ${SEED} (replay with DIRSTREAM_ORACLE_SEED=${SEED})`);
  client = new Client({
    url: samba.url,
    timeout: 60_000,
    connectTimeout: 5_000,
    tlsOptions: { ca: [readFileSync(samba.caFile)], servername: samba.serverName },
  });
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

test(
  `Active Directory → database converges after every sync (seed ${SEED})`,
  { skip: !samba && 'no Samba AD DC in infra.json' },
  async () => {
    assert.ok(samba);
    const driver = createDriver(SEED);
    const { pick, chance, serial, live, groups, note } = driver;
    const tag = ouDn.slice(3, ouDn.indexOf(',')).slice(-6);
    const people = `OU=people,${ouDn}`;
    const peopleOus = [people, `OU=sales,${people}`];
    const groupsDn = `OU=groups,${ouDn}`;
    const attic = `OU=attic,${ouDn}`;
    const realm = samba.realm.toLowerCase();
    const change = (operation: 'add' | 'delete' | 'replace', type: string, values: readonly string[]) =>
      new Change({ operation, modification: new Attribute({ type, values: [...values] }) });
    const common = commonOperations(driver, client, { user: 'CN', group: 'CN' });
    // sAMAccountName is unique in the domain and at most 20 characters: tag it with this OU.
    const login = (name: string) => `${name}.${tag}`;

    const addUser = async (name = `u${serial()}`) => {
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
      const cn = `g${serial()}`;
      const dn = `CN=${cn},${groupsDn}`;
      const members = [...live.filter(() => chance(0.3)), ...groups.filter(() => chance(0.2))];
      await client.add(dn, {
        objectClass: ['top', 'group'],
        cn,
        sAMAccountName: `${cn}.${tag}`,
        ...(members.length > 0 ? { member: members } : {}),
      });
      groups.push(dn);
      note(`add group ${dn} with ${members.length} members`);
    };

    const ops: OracleOp[] = [
      { name: 'add user', weight: 6, when: () => true, run: () => addUser() },
      {
        name: 'modify user',
        weight: 4,
        when: () => live.length > 0,
        run: async () => {
          const dn = pick(live);
          const shown = chance(0.6);
          await client.modify(dn, [change('replace', 'displayName', shown ? [`Shown ${serial()}`] : [])]);
          note(`modify ${dn} ${shown ? 'displayName' : 'no displayName'}`);
        },
      },
      {
        name: 'change login',
        weight: 2,
        when: () => live.length > 0,
        run: async () => {
          const dn = pick(live);
          await client.modify(dn, [change('replace', 'sAMAccountName', [login(`l${serial()}`)])]);
          note(`login change ${dn}`);
        },
      },
      common.renameUser(3),
      {
        name: 'move user',
        weight: 3,
        when: () => live.length > 0,
        run: async () => {
          const dn = pick(live);
          const target = peopleOus.find((ou) => comparableDn(ou) !== comparableDn(parentOf(dn))) as string;
          const next = `CN=${rdnValue(dn)},${target}`;
          await client.modifyDN(dn, next);
          replaceIn(live, dn, next);
          note(`move ${dn} → ${next}`);
        },
      },
      common.moveOut(2, attic),
      common.moveBack(2, peopleOus),
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
          const members = new Set((await membersOf(client, group)).map(comparableDn));
          const dn = pick(live);
          const operation = members.has(comparableDn(dn)) ? 'delete' : 'add';
          await client.modify(group, [change(operation, 'member', [dn])]);
          note(`member ${operation} ${dn} ${group}`);
        },
      },
      common.nestedGroupChange(3),
      { name: 'add group', weight: 2, when: () => true, run: addGroup },
      common.renameGroup(1),
      common.deleteGroup(1),
      {
        name: 'conflicting local account',
        weight: 2,
        when: () => driver.synced,
        run: async () => {
          const name = `c${serial()}`;
          const local = chance(0.5) ? login(name).toUpperCase() : login(name);
          await pipeline.query(`insert into users (source, login_name, display_name) values ('local', $1, $2)`, [local, `Local ${local}`]);
          note(`local account ${local}`);
          await addUser(name);
        },
      },
    ];
    await runOracle({
      seed: SEED,
      operations: OPERATIONS,
      syncs: SYNCS,
      pipeline,
      driver,
      ops,
      syncLabel: 'AD sync',
      testFile: 'test/e2e/oracle-ad.test.ts',
      initial: async () => {
        for (let i = 0; i < 6; i++) await addUser();
        for (let i = 0; i < 2; i++) await addGroup();
      },
      snapshot: () =>
        snapshotDirectory({
          url: samba.url,
          bindDn: samba.adminDn,
          passwordFile: pipeline.passwordFile,
          usersBaseDn: people,
          groupsBaseDn: groupsDn,
          dialect: 'active-directory',
          env: { LDAPTLS_CACERT: samba.caFile, LDAPTLS_REQCERT: 'allow' },
        }),
    });
  },
);
