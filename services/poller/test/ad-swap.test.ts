/**
 * A swapped DC: the profile lists two DCs restored from the same seeded snapshot (127.0.0.2 and
 * 127.0.0.3). The poller reads DC-A, DC-A takes changes, then DC-A goes away and DC-B — the
 * snapshot, i.e. a DC restored from a backup that never saw those changes — answers. Its
 * highestCommittedUSN is below the cursor: the run must refuse the cursor, do a full pass and
 * converge on what DC-B holds.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminClient, createTestDatabase, loadInfra, loadSamba, type TestDatabase, uniquePrefix } from '@dirstream/testing';
import { restoreSambaDc, type SambaDc, sambaDc, stopSambaDc } from '../../../infra/local/samba.ts';
import { STATE_DIR } from '../../../infra/local/paths.ts';
import { decodeUsnCursor } from '../src/ad/usn-cursor.ts';
import { adProfile, createAdPoller, describeEvents } from './ad-support.ts';
import { Attribute, Change } from 'ldapts';

const samba = loadSamba();

describe('active-directory: a swapped DC forces a full pass and converges', () => {
  let database: TestDatabase;
  const name = uniquePrefix('ad-swap');
  const dcA: SambaDc = sambaDc({ dir: join(STATE_DIR, 'samba', 'tests', `${name}-a`), ip: '127.0.0.2' });
  const dcB: SambaDc = sambaDc({ dir: join(STATE_DIR, 'samba', 'tests', `${name}-b`), ip: '127.0.0.3' });

  before(async () => {
    database = await createTestDatabase(loadInfra(), 'ad-swap');
    await restoreSambaDc(samba.snapshotDir, dcA);
    await restoreSambaDc(samba.snapshotDir, dcB);
  });
  after(async () => {
    for (const dc of [dcA, dcB]) {
      await stopSambaDc(dc.dir);
      rmSync(dc.dir, { recursive: true, force: true });
    }
    await database?.drop();
  });

  it('reads DC-A, fails over to the restored DC-B, and converges', async () => {
    const staff = `OU=staff,${samba.sampleBaseDn}`;
    const base = adProfile(samba, { dn: staff }, { urls: [`ldaps://${dcA.ip}:636`, `ldaps://${dcB.ip}:636`] });
    const profile = {
      ...base,
      connection: { ...base.connection, tls: { ...base.connection.tls, caFile: join(dcA.dir, 'private', 'tls', 'ca.pem') } },
      groups: { ...base.groups!, baseDn: `OU=groups,${samba.sampleBaseDn}`, filter: '(cn=staff-all)' },
    } as typeof base;
    const poller = await createAdPoller(profile, database.url);
    try {
      const full = await poller.run();
      assert.equal(full.result.status, 'succeeded', full.result.reason ?? '');
      assert.equal(full.result.mode, 'full');
      const staffCount = full.users.length;
      assert.ok(staffCount >= 100, `staff users: ${staffCount}`);
      const cursorA = decodeUsnCursor(full.result.summary.cursorAfter)!;

      // DC-A takes changes the snapshot (DC-B) never sees.
      const a = await adminClient(samba, `ldaps://${dcA.ip}:636`, samba.serverName, join(dcA.dir, 'private', 'tls', 'ca.pem'));
      try {
        await a.add(`CN=swap-new,${staff}`, {
          objectClass: ['top', 'person', 'organizationalPerson', 'user'],
          cn: 'swap-new',
          sAMAccountName: 'swap-new',
          userAccountControl: '544',
        });
        await a.modify(
          `CN=staff-all,OU=groups,${samba.sampleBaseDn}`,
          new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [`CN=swap-new,${staff}`] }) }),
        );
        const [u0] = (await a.search(staff, { filter: '(sAMAccountName=u00000)', attributes: ['1.1'] })).searchEntries;
        await a.modify(
          u0!.dn,
          new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Changed on DC-A'] }) }),
        );
      } finally {
        await a.unbind();
      }
      const onA = await poller.run();
      assert.equal(onA.result.mode, 'delta');
      assert.deepEqual(
        describeEvents(onA).filter((l) => !l.startsWith('membership')),
        ['user created swap-new', 'user updated u00000'],
      );
      assert.equal(onA.memberships.length, 1);

      // DC-A goes away; DC-B (the older snapshot, same dsServiceName and invocationId) answers.
      await stopSambaDc(dcA.dir);
      const onB = await poller.run();
      assert.equal(onB.result.status, 'succeeded', onB.result.reason ?? '');
      assert.equal(onB.result.mode, 'full', 'the USN cursor of DC-A must not be used on DC-B');
      assert.ok(onB.result.summary.counts.entriesRead >= staffCount, 'a full pass reads everything');
      const cursorB = decodeUsnCursor(onB.result.summary.cursorAfter)!;
      assert.ok(BigInt(cursorB.usn) < BigInt(cursorA.usn) + 10n);
      // Converged on DC-B: swap-new never existed there, u00000 has its old title.
      const lines = describeEvents(onB);
      assert.deepEqual(
        lines.filter((l) => l.startsWith('user')),
        ['user disabled swap-new (removed-from-directory)', 'user updated u00000'],
      );
      assert.equal(onB.memberships.length, 1);
      assert.equal(onB.memberships[0]!.op, 'removed');

      const settled = await poller.run();
      assert.equal(settled.result.mode, 'delta');
      assert.deepEqual(describeEvents(settled), []);
    } finally {
      await poller.close();
    }
  });
});
