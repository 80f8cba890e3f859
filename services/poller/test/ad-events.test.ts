/**
 * The AD dialect through the real sync run against the Samba DC: each directory change gives
 * exactly the expected events, and a pass with nothing changed gives none. Every test has its own
 * OU and profile; the state lives in this file's own PostgreSQL database.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { type AdOu, createAdOu, createTestDatabase, loadInfra, loadSamba, type TestDatabase } from '@dirstream/testing';
import { type AdPoller, adProfile, type CollectedRun, createAdPoller, describeEvents } from './ad-support.ts';

const samba = loadSamba();

/** samba-tool over LDAP (NTLM-signed), as an administrator would run it. */
function sambaTool(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      '/usr/bin/samba-tool',
      [...args, '-H', samba.ldapUrl, `-U${samba.domain}\\Administrator%${samba.adminPassword}`, '--use-kerberos=off'],
      {
        env: { ...process.env, PATH: `/usr/bin:/usr/sbin:${process.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`samba-tool ${args.join(' ')} exited ${code}: ${output.slice(-1500)}`)),
    );
  });
}

describe('active-directory events on Samba', () => {
  let database: TestDatabase;
  const cleanups: (() => Promise<void>)[] = [];
  before(async () => {
    database = await createTestDatabase(loadInfra(), 'ad-events');
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await database?.drop();
  });

  /** An OU, a poller on it, and the ID → name map that keeps membership lines readable. */
  async function setup(
    label: string,
    delta: 'usn' | 'dirsync' = 'usn',
  ): Promise<{ ou: AdOu; poller: AdPoller; pass: () => Promise<string[]>; last: () => CollectedRun }> {
    const ou = await createAdOu(samba, label);
    const poller = await createAdPoller(adProfile(samba, ou, { delta }), database.url);
    cleanups.push(
      () => poller.close(),
      () => ou.cleanup(),
    );
    const names = new Map<string, string>();
    let latest: CollectedRun | undefined;
    const pass = async () => {
      const run = await poller.run();
      assert.equal(run.result.status, 'succeeded', `run ${run.result.mode}: ${run.result.reason}`);
      for (const e of run.users) names.set(e.externalId, e.state.loginName);
      for (const e of run.groups) names.set(e.externalId, e.state.name);
      latest = run;
      return describeEvents(run, names);
    };
    // The first pass of a profile is full: the OU holds only OU=people and OU=groups.
    assert.deepEqual(await pass(), []);
    assert.equal(latest!.result.mode, 'full');
    return { ou, poller, pass, last: () => latest! };
  }

  it('create, then an unchanged pass', async () => {
    const { ou, pass, last } = await setup('ad-create');
    await ou.addUser('alice', { title: 'Engineer' });
    assert.deepEqual(await pass(), [`user created ${ou.login('alice')}`]);
    assert.equal(last().result.mode, 'delta');
    const [created] = last().users;
    assert.match(created!.externalId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(created!.state.sid!, /^S-1-5-21-/);
    assert.equal(created!.state.userPrincipalName, `${ou.login('alice')}@dirstream.test`);
    assert.equal(created!.state.enabled, true);
    assert.equal(created!.state.title, 'Engineer');
    assert.deepEqual(created!.state.attributes.lockedOut, ['false']);
    assert.deepEqual(await pass(), []);
  });

  it('modify', async () => {
    const { ou, pass, last } = await setup('ad-modify');
    const dn = await ou.addUser('bob');
    await pass();
    await ou.modify(dn, { title: 'Manager', telephoneNumber: '+1 555 0100' });
    assert.deepEqual(await pass(), [`user updated ${ou.login('bob')}`]);
    assert.deepEqual([...last().users[0]!.changed].sort(), ['phone', 'title']);
    assert.deepEqual(await pass(), []);
  });

  it('rename with samba-tool user rename', async () => {
    const { ou, pass, last } = await setup('ad-rename');
    await ou.addUser('carol');
    await pass();
    await sambaTool(['user', 'rename', ou.login('carol'), '--force-new-cn=Carol Renamed', `--samaccountname=${ou.login('carol2')}`]);
    assert.deepEqual(await pass(), [`user renamed ${ou.login('carol2')}`]);
    const [renamed] = last().users;
    assert.equal(renamed!.rename?.previousDn, `CN=carol,${ou.peopleDn}`);
    assert.equal(renamed!.rename?.previousLoginName, ou.login('carol'));
    assert.equal(renamed!.state.dn, `CN=Carol Renamed,${ou.peopleDn}`);
    assert.deepEqual(await pass(), []);
  });

  it('move to another OU', async () => {
    const { ou, pass, last } = await setup('ad-move');
    const dn = await ou.addUser('dave');
    await ou.client.add(`OU=moved,${ou.dn}`, { objectClass: ['top', 'organizationalUnit'], ou: 'moved' });
    await pass();
    await ou.client.modifyDN(dn, `CN=dave,OU=moved,${ou.dn}`);
    assert.deepEqual(await pass(), [`user moved ${ou.login('dave')}`]);
    assert.equal(last().users[0]!.rename?.previousDn, dn);
    assert.deepEqual(await pass(), []);
  });

  it('disable and enable (userAccountControl 0x2)', async () => {
    const { ou, pass } = await setup('ad-disable');
    const dn = await ou.addUser('erin');
    await pass();
    await ou.modify(dn, { userAccountControl: '514' });
    assert.deepEqual(await pass(), [`user disabled ${ou.login('erin')} (directory-disabled)`]);
    assert.deepEqual(await pass(), []);
    await ou.modify(dn, { userAccountControl: '512' });
    assert.deepEqual(await pass(), [`user enabled ${ou.login('erin')}`]);
    assert.deepEqual(await pass(), []);
  });

  it('delete (tombstone): the user is disabled and leaves its groups', async () => {
    const { ou, pass } = await setup('ad-delete');
    const frank = await ou.addUser('frank');
    const grace = await ou.addUser('grace');
    await ou.addGroup('team', [frank, grace]);
    assert.deepEqual(
      await pass(),
      [
        'group created team',
        `membership added team ← user ${ou.login('frank')}`,
        `membership added team ← user ${ou.login('grace')}`,
        `user created ${ou.login('frank')}`,
        `user created ${ou.login('grace')}`,
      ].sort(),
    );
    // Samba drops frank from `member` without moving the group's uSNChanged: the poller must
    // derive the membership removal itself.
    await ou.client.del(frank);
    assert.deepEqual(await pass(), [
      `membership removed team ← user ${ou.login('frank')}`,
      `user disabled ${ou.login('frank')} (removed-from-directory)`,
    ]);
    assert.deepEqual(await pass(), []);
  });

  it('a deleted group is removed with its memberships', async () => {
    const { ou, pass } = await setup('ad-group-delete');
    const olga = await ou.addUser('olga');
    const group = await ou.addGroup('temp', [olga]);
    await pass();
    await ou.client.del(group);
    assert.deepEqual(await pass(), ['group removed temp', `membership removed temp ← user ${ou.login('olga')}`]);
    assert.deepEqual(await pass(), []);
  });

  it('DirSync as the delta: create, modify, delete', async () => {
    const { ou, pass, last } = await setup('ad-dirsync', 'dirsync');
    const pia = await ou.addUser('pia');
    assert.deepEqual(await pass(), [`user created ${ou.login('pia')}`]);
    assert.equal(last().result.mode, 'delta');
    assert.match(last().result.summary.cursorAfter ?? '', /^ad-dirsync:/);
    await ou.modify(pia, { title: 'Via DirSync' });
    assert.deepEqual(await pass(), [`user updated ${ou.login('pia')}`]);
    await ou.client.del(pia);
    assert.deepEqual(await pass(), [`user disabled ${ou.login('pia')} (removed-from-directory)`]);
    assert.deepEqual(await pass(), []);
  });

  it('group add and remove members', async () => {
    const { ou, pass } = await setup('ad-members');
    const heidi = await ou.addUser('heidi');
    const ivan = await ou.addUser('ivan');
    const group = await ou.addGroup('devs', [heidi]);
    await pass();
    await ou.addMembers(group, [ivan]);
    assert.deepEqual(await pass(), [`membership added devs ← user ${ou.login('ivan')}`]);
    await ou.removeMembers(group, [heidi]);
    assert.deepEqual(await pass(), [`membership removed devs ← user ${ou.login('heidi')}`]);
    assert.deepEqual(await pass(), []);
  });

  it('nested group change', async () => {
    const { ou, pass } = await setup('ad-nested');
    const judy = await ou.addUser('judy');
    const inner = await ou.addGroup('inner', [judy]);
    const outer = await ou.addGroup('outer', []);
    await pass();
    await ou.addMembers(outer, [inner]);
    assert.deepEqual(await pass(), ['membership added outer ← group inner']);
    await ou.removeMembers(outer, [inner]);
    assert.deepEqual(await pass(), ['membership removed outer ← group inner']);
    assert.deepEqual(await pass(), []);
  });

  it('a renamed member stays in its groups (edges are keyed by ID, not DN)', async () => {
    const { ou, pass } = await setup('ad-member-rename');
    const ken = await ou.addUser('ken');
    await ou.addGroup('crew', [ken]);
    await pass();
    await ou.client.modifyDN(ken, `CN=ken renamed,${ou.peopleDn}`);
    assert.deepEqual(await pass(), [`user renamed ${ou.login('ken')}`]);
    assert.deepEqual(await pass(), []);
  });

  it('the primary group (primaryGroupID) counts as a membership', async () => {
    const { ou, pass } = await setup('ad-primary');
    const liam = await ou.addUser('liam');
    const group = await ou.addGroup('primary', [liam]);
    await pass();
    const [entry] = (await ou.client.search(group, { scope: 'base', attributes: ['objectSid'], explicitBufferAttributes: ['objectSid'] }))
      .searchEntries;
    const sid = entry!.objectSid as Buffer;
    const rid = sid.readUInt32LE(sid.length - 4);
    // Making it the primary group drops liam from `member`; the edge must stay.
    await ou.modify(liam, { primaryGroupID: String(rid) });
    assert.deepEqual(await pass(), [`user updated ${ou.login('liam')}`]);
    await ou.modify(liam, { primaryGroupID: '513' });
    assert.deepEqual(await pass(), [`user updated ${ou.login('liam')}`]);
    assert.deepEqual(await pass(), []);
  });

  it('the USN cursor survives a poller restart', async () => {
    const ou = await createAdOu(samba, 'ad-restart');
    cleanups.push(() => ou.cleanup());
    const profile = adProfile(samba, ou);
    await ou.addUser('mia');
    const first = await createAdPoller(profile, database.url);
    const full = await first.run();
    assert.deepEqual([full.result.mode, describeEvents(full)], ['full', [`user created ${ou.login('mia')}`]]);
    await first.close();
    await ou.addUser('noah');
    const second = await createAdPoller(profile, database.url);
    cleanups.push(() => second.close());
    const resumed = await second.run();
    assert.equal(resumed.result.mode, 'delta');
    assert.equal(resumed.result.summary.cursorBefore, full.result.summary.cursorAfter);
    assert.deepEqual(describeEvents(resumed), [`user created ${ou.login('noah')}`]);
    assert.deepEqual(describeEvents(await second.run()), []);
  });

  it('a group of 2,100 members read through explicit ranges', async () => {
    const profile = adProfile(samba, { dn: `OU=bulk,${samba.sampleBaseDn}` });
    const ranged = {
      ...profile,
      groups: { ...profile.groups!, baseDn: `OU=groups,${samba.sampleBaseDn}`, filter: '(cn=bulk-members)' },
    } as typeof profile;
    // Samba answers `member` unranged unless asked: ask in ranges of 1,000 to take the range path.
    const poller = await createAdPoller(ranged, database.url, { memberRangeStep: 1_000 });
    cleanups.push(() => poller.close());
    const full = await poller.run();
    assert.equal(full.result.status, 'succeeded', full.result.reason ?? '');
    const expected = samba.fixture.bulkMembers;
    assert.equal(full.users.filter((e) => e.op === 'created').length, expected);
    assert.deepEqual(describeEvents({ ...full, users: [], memberships: [] }), ['group created bulk-members']);
    const added = full.memberships.filter((e) => e.op === 'added' && e.memberType === 'user');
    assert.equal(added.length, expected);
    assert.equal(new Set(added.map((e) => e.memberId)).size, expected);
    assert.equal(full.memberships.length, expected);
    const again = await poller.run();
    assert.equal(again.result.mode, 'delta');
    assert.deepEqual(describeEvents(again), []);
  });
});
