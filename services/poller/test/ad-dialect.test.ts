/**
 * The active-directory dialect against the real Samba AD DC: identity, range retrieval, the
 * primary group, USN deltas pinned to the DC, tombstones and DirSync. Each test has its own OU.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AdOu, createAdOu, loadSamba } from '@dirstream/testing';
import { decodeUsnCursor } from '../src/ad/usn-cursor.ts';
import type { DirectoryConnection } from '../src/directory/client.ts';
import type { GroupMapping } from '../src/directory/dialect.ts';
import { firstString, values } from '../src/directory/entry.ts';
import { createActiveDirectoryDialect, readRangedAttribute } from '../src/dialects/active-directory.ts';
import { readDcIdentity } from '../src/dialects/active-directory-delta.ts';
import { adProfile, connectAd } from './ad-support.ts';

const samba = loadSamba();
const groupMapping = {
  externalId: 'objectGUID',
  name: 'cn',
  memberAttributes: ['member'],
  nested: true,
  description: 'description',
  modified: 'whenChanged',
} as unknown as GroupMapping;

async function readOne(connection: DirectoryConnection, dn: string, attributes: string[]) {
  const [entry] = await connection.searchAll({
    baseDn: dn,
    scope: 'base',
    filter: '(objectClass=*)',
    attributes,
    binary: ['objectGUID', 'objectSid', 'sIDHistory'],
  });
  assert.ok(entry, `entry ${dn}`);
  return entry;
}

describe('active-directory dialect on Samba', () => {
  let ou: AdOu;
  let connection: DirectoryConnection;
  before(async () => {
    ou = await createAdOu(samba, 'ad-dialect');
    connection = await connectAd(adProfile(samba, ou));
  });
  after(async () => {
    await connection?.close();
    await ou?.cleanup();
  });

  it('normalises objectGUID and objectSid and finds the entry again by ID', async () => {
    const dialect = createActiveDirectoryDialect();
    const dn = await ou.addUser('ident1');
    const entry = await readOne(connection, dn, ['objectGUID', 'objectSid', 'userAccountControl', 'sAMAccountName']);
    const id = dialect.normaliseId(values(entry, 'objectGUID')[0]!);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const [again] = await connection.searchAll({
      baseDn: ou.dn,
      scope: 'sub',
      filter: dialect.idFilter('objectGUID', id),
      attributes: ['sAMAccountName'],
    });
    assert.equal(again?.dn, dn);
    const sid = dialect.normaliseId(values(entry, 'objectSid')[0]!);
    assert.match(sid, /^S-1-5-21-\d+-\d+-\d+-\d+$/);
    const [bySid] = await connection.searchAll({
      baseDn: ou.dn,
      scope: 'sub',
      filter: dialect.idFilter('objectSid', sid),
      attributes: ['sAMAccountName'],
    });
    assert.equal(bySid?.dn, dn);
    // The disabled filter uses the bitwise-AND matching rule on userAccountControl.
    await ou.modify(dn, { userAccountControl: '514' });
    const disabled = await connection.searchAll({
      baseDn: ou.dn,
      scope: 'sub',
      filter: dialect.disabledFilter(undefined)!,
      attributes: ['1.1'],
    });
    assert.deepEqual(
      disabled.map((e) => e.dn),
      [dn],
    );
  });

  it('reads a 2,100-member group completely through explicit ranges', async () => {
    const bulk = `CN=bulk-members,OU=groups,${samba.sampleBaseDn}`;
    const plain = await readOne(connection, bulk, ['member']);
    const expected = values(plain, 'member').length;
    assert.ok(expected >= 2_000, `fixture group has ${expected} members`);
    const ranged = await readRangedAttribute(connection, bulk, 'member', { step: 1_000 });
    assert.equal(ranged.length, expected);
    assert.equal(new Set(ranged).size, expected);
    // As AD answers a large group: the first chunk ranged in the entry, the rest fetched by the dialect.
    const first = await readOne(connection, bulk, ['member;range=0-1499', 'objectSid']);
    assert.equal(values(first, 'member;range=0-1499').length, 1_500);
    const members = await createActiveDirectoryDialect({ primaryGroupMembership: false }).readMembers(first, groupMapping, connection);
    assert.equal(members.dns.length, expected);
    const forced = await createActiveDirectoryDialect({ memberRangeStep: 700 }).readMembers(first, groupMapping, connection);
    assert.deepEqual([...forced.dns].sort(), [...ranged].sort());
  });

  it('counts the primary group as a membership', async () => {
    const user = await ou.addUser('prim1');
    const group = await ou.addGroup('primary', [user]);
    const groupEntry = await readOne(connection, group, ['objectSid', 'member']);
    const rid = /-(\d+)$/.exec(createActiveDirectoryDialect().normaliseId(values(groupEntry, 'objectSid')[0]!))![1]!;
    await ou.modify(user, { primaryGroupID: rid });
    // AD drops the user from `member` once the group is its primary group.
    const after = await readOne(connection, group, ['objectSid', 'member']);
    assert.deepEqual(values(after, 'member'), []);
    const members = await createActiveDirectoryDialect().readMembers(after, groupMapping, connection);
    assert.deepEqual(members.dns, [user]);
    // Without objectSid in the entry (the run reads only ID + member), the dialect looks it up.
    const bare = await readOne(connection, group, ['objectGUID', 'member']);
    assert.deepEqual((await createActiveDirectoryDialect().readMembers(bare, groupMapping, connection)).dns, [user]);
    // A group that is somebody's primary group cannot be deleted: give the user Domain Users back.
    await ou.modify(user, { primaryGroupID: '513' });
  });

  it('USN cursor: pinned to the DC, finds changes, moves out of scope and tombstones', async () => {
    const dialect = createActiveDirectoryDialect();
    const people = `OU=people,${ou.dn}`;
    const context = { usersBaseDn: people, groupsBaseDn: null, idAttribute: 'objectGUID' };
    const delta = dialect.createDelta('usn', context)!;
    const keep = await ou.addUser('usn-keep');
    const gone = await ou.addUser('usn-gone');
    const moved = await ou.addUser('usn-moved');
    const idOf = async (dn: string) => dialect.normaliseId(values(await readOne(connection, dn, ['objectGUID']), 'objectGUID')[0]!);
    const [keepId, goneId, movedId] = [await idOf(keep), await idOf(gone), await idOf(moved)];
    const cursor = await delta.startCursor(connection, Date.now(), 0);
    const dc = await readDcIdentity(connection);
    assert.deepEqual(decodeUsnCursor(cursor), {
      dsServiceName: dc.dsServiceName,
      invocationId: dc.invocationId,
      usn: dc.highestCommittedUsn,
    });

    const none = await delta.changesSince(connection, cursor, 0, 1_000);
    assert.deepEqual([none.requestedIds, none.deletedIds], [[], []]);

    await ou.modify(keep, { title: 'Changed' });
    await ou.client.del(gone);
    await ou.client.modifyDN(moved, `CN=usn-moved,OU=groups,${ou.dn}`);
    const changes = await delta.changesSince(connection, cursor, 0, 1_000);
    // The moved user is asked for by ID: re-read within OU=people it is missing, i.e. out of scope.
    assert.deepEqual(changes.requestedIds, [keepId, movedId].sort());
    assert.deepEqual(changes.deletedIds, [goneId]);
    const reread = await connection.searchAll({
      baseDn: people,
      scope: 'sub',
      filter: `(|${changes.clauses.join('')})`,
      attributes: ['sAMAccountName'],
    });
    assert.deepEqual(
      reread.map((e) => firstString(e, 'sAMAccountName')),
      [ou.login('usn-keep')],
    );
    assert.ok(BigInt(decodeUsnCursor(changes.nextCursor)!.usn) > BigInt(decodeUsnCursor(cursor)!.usn));

    // Another DC, a restored DC or a USN above the DC's own: the cursor is refused (→ full pass).
    const c = decodeUsnCursor(cursor)!;
    const forged = (patch: object) => `ad-usn:${JSON.stringify({ dsa: c.dsServiceName, inv: c.invocationId, usn: c.usn, ...patch })}`;
    for (const bad of [
      forged({ dsa: 'CN=NTDS Settings,CN=DC9' }),
      forged({ inv: '00000000-0000-0000-0000-000000000001' }),
      forged({ usn: '999999999' }),
    ]) {
      await assert.rejects(delta.changesSince(connection, bad, 0, 1_000), { code: 'DELTA_CURSOR_INVALID' });
    }
  });

  it('DirSync: cookie from a first drain, then changes and deletions', async () => {
    const dialect = createActiveDirectoryDialect();
    const delta = dialect.createDelta('dirsync', { usersBaseDn: ou.dn, groupsBaseDn: null, idAttribute: 'objectGUID' })!;
    const a = await ou.addUser('ds-a');
    const b = await ou.addUser('ds-b');
    const cursor = await delta.startCursor(connection, Date.now(), 0);
    assert.match(cursor, /^ad-dirsync:/);
    await ou.modify(a, { title: 'DirSync' });
    const bId = dialect.normaliseId(values(await readOne(connection, b, ['objectGUID']), 'objectGUID')[0]!);
    const aId = dialect.normaliseId(values(await readOne(connection, a, ['objectGUID']), 'objectGUID')[0]!);
    await ou.client.del(b);
    const changes = await delta.changesSince(connection, cursor, 0, 1_000);
    assert.ok(changes.requestedIds!.includes(aId), 'modified user reported');
    assert.deepEqual(changes.deletedIds, [bId]);
    const again = await delta.changesSince(connection, changes.nextCursor, 0, 1_000);
    assert.deepEqual([again.requestedIds, again.deletedIds], [[], []]);
  });

  it('ignores the referral to CN=Configuration from the domain root (and only when asked to)', async () => {
    const request = { baseDn: samba.baseDn, scope: 'sub' as const, filter: '(objectClass=organizationalUnit)', attributes: ['1.1'] };
    let read = 0;
    for await (const page of connection.searchPages({ ...request, ignoreReferrals: true })) read += page.length;
    assert.ok(read >= 3, `OUs read: ${read}`);
    await assert.rejects(
      async () => {
        for await (const _ of connection.searchPages(request)) {
          // drain
        }
      },
      { code: 'LDAP_REFERRAL_NOT_FOLLOWED' },
    );
  });
});
