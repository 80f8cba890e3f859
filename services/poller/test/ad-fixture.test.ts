import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adFixtureEntries, DEFAULT_AD_FIXTURE, unicodePwd } from '../../../infra/sample/ad-fixture.ts';

const DOMAIN = 'DC=dirstream,DC=test';
const cls = (e: { attributes: Record<string, unknown> }) => [e.attributes.objectClass].flat().at(-1);

describe('AD fixture generator', () => {
  const entries = adFixtureEntries(DOMAIN, DEFAULT_AD_FIXTURE);
  const byDn = new Map(entries.map((e) => [e.dn, e]));

  it('is deterministic and has the documented shape', () => {
    assert.deepEqual(adFixtureEntries(DOMAIN, DEFAULT_AD_FIXTURE), entries);
    const users = entries.filter((e) => cls(e) === 'user');
    const groups = entries.filter((e) => cls(e) === 'group');
    const f = DEFAULT_AD_FIXTURE;
    assert.equal(users.length, f.users + f.passwordUsers + f.bulkMembers);
    assert.equal(groups.length, f.userOus.length + f.groups + 3);
    assert.equal(
      users.filter((u) => ['546', '514'].includes(String(u.attributes.userAccountControl))).length,
      f.users / f.disabledEvery + 1,
    );
    assert.equal(users.filter((u) => u.password).length, f.passwordUsers);
    assert.equal(new Set(users.map((u) => u.attributes.sAMAccountName)).size, users.length);
  });

  it('adds parents before children and members before their groups', () => {
    const seen = new Set<string>();
    for (const entry of entries) {
      const parent = entry.dn.slice(entry.dn.indexOf(',') + 1);
      if (parent !== DOMAIN) assert.ok(seen.has(parent), `${entry.dn} before its parent`);
      for (const member of [entry.attributes.member ?? []].flat()) assert.ok(seen.has(String(member)), `${member} before ${entry.dn}`);
      seen.add(entry.dn);
    }
  });

  it('has nested groups and one group above the 1,500-value range', () => {
    const groups = `OU=groups,OU=sample,${DOMAIN}`;
    const everyone = byDn.get(`CN=everyone,${groups}`)!;
    assert.deepEqual(
      everyone.attributes.member,
      DEFAULT_AD_FIXTURE.userOus.map((o) => `CN=${o}-all,${groups}`),
    );
    assert.equal([byDn.get(`CN=bulk-members,${groups}`)!.attributes.member].flat().length, 2_100);
  });

  it('encodes unicodePwd as quoted UTF-16LE', () => {
    assert.equal(unicodePwd('Pw1!').toString('hex'), Buffer.from('"Pw1!"', 'utf16le').toString('hex'));
    assert.equal(unicodePwd('a').length, 6);
  });
});
