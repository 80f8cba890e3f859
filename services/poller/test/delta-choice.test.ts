import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseDelta, type ConfiguredDelta, type ServerOffers } from '../src/core/delta-choice.ts';

const all: ServerOffers = { accesslog: true, syncrepl: true };
const sync: ServerOffers = { accesslog: false, syncrepl: true };
const bare: ServerOffers = { accesslog: false, syncrepl: false };

describe('chooseDelta', () => {
  const rows: [string, 'openldap' | 'ldap' | 'active-directory', ConfiguredDelta, ServerOffers | null, string][] = [
    ['openldap auto, accesslog', 'openldap', 'auto', all, 'accesslog'],
    ['openldap auto, syncprov only', 'openldap', 'auto', sync, 'syncrepl'],
    ['openldap auto, neither', 'openldap', 'auto', bare, 'timestamp'],
    ['ldap auto, syncprov', 'ldap', 'auto', all, 'syncrepl'],
    ['ldap auto, nothing', 'ldap', 'auto', bare, 'timestamp'],
    ['ad auto', 'active-directory', 'auto', null, 'usn'],
    ['explicit timestamp on a full server', 'openldap', 'timestamp', all, 'timestamp'],
    ['explicit accesslog offered', 'openldap', 'accesslog', all, 'accesslog'],
    ['explicit accesslog missing', 'openldap', 'accesslog', sync, 'error:accesslog'],
    ['explicit syncrepl missing', 'openldap', 'syncrepl', bare, 'error:syncprov'],
    ['explicit none', 'openldap', 'none', bare, 'none'],
  ];
  for (const [name, directory, configured, offers, expected] of rows) {
    it(name, () => {
      const choice = chooseDelta({ directory, configured, offers });
      if (expected.startsWith('error:')) {
        assert.equal(choice.ok, false);
        if (!choice.ok) {
          assert.match(choice.message, new RegExp(expected.slice(6)));
          assert.match(choice.message, /schedule\.delta: auto/);
        }
      } else {
        assert.equal(choice.ok, true);
        if (choice.ok) {
          assert.equal(choice.kind, expected);
          assert.ok(choice.cannotSee.length > 0);
        }
      }
    });
  }
  it('a fallback below the best says so', () => {
    const choice = chooseDelta({ directory: 'openldap', configured: 'auto', offers: bare });
    assert.ok(choice.ok && choice.fallback && /accesslog/.test(choice.why) && /syncprov|Sync Request/.test(choice.why));
  });
});
