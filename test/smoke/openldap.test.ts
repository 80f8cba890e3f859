import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLdapSubtree, type LdapSubtree, loadInfra } from '@dirstream/testing';
import { Client } from 'ldapts';

const infra = loadInfra();
let subtree: LdapSubtree;

before(async () => {
  subtree = await createLdapSubtree(infra, 'smoke');
});
after(async () => {
  await subtree.cleanup();
});

test('binds and pages through the seeded sample directory', async () => {
  const client = new Client({ url: infra.openldap.url });
  await client.bind(infra.openldap.adminDn, infra.openldap.adminPassword);
  try {
    let pages = 0;
    let entries = 0;
    for await (const page of client.searchPaginated(infra.openldap.sampleBaseDn, {
      filter: '(objectClass=inetOrgPerson)',
      attributes: ['entryUUID', 'uid'],
      paged: { pageSize: 200 },
    })) {
      pages++;
      entries += page.searchEntries.length;
      for (const entry of page.searchEntries) assert.match(String(entry.entryUUID), /^[0-9a-f-]{36}$/);
    }
    assert.equal(entries, 1000);
    assert.equal(pages, 5);
  } finally {
    await client.unbind();
  }
});

test('a wrong password is refused', async () => {
  const client = new Client({ url: infra.openldap.url });
  try {
    await assert.rejects(client.bind(infra.openldap.adminDn, 'wrong-password'), { name: 'InvalidCredentialsError' });
  } finally {
    await client.unbind();
  }
});

test('each test file gets its own writable subtree', async () => {
  const dn = await subtree.addUser('smoke1', { displayName: 'Zoë Smoke' });
  const { searchEntries } = await subtree.client.search(subtree.baseDn, { filter: '(uid=smoke1)', attributes: ['displayName'] });
  assert.equal(searchEntries.length, 1);
  assert.equal(searchEntries[0]?.dn, dn);
  assert.equal(searchEntries[0]?.displayName, 'Zoë Smoke');
});
