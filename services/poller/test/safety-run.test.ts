/**
 * Invariant 4 against the real slapd: an incomplete read disables nobody, an empty result or a
 * wrong base DN halts, a mass removal over the threshold halts with a report.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setupPollerTest } from './poller-support.ts';

/** A TCP proxy to slapd that cuts every connection once `cutAfterBytes` came back from the server. */
async function startCuttingProxy(
  target: URL,
  cutAfterBytes: number,
): Promise<{ url: string; cuts: () => number; close: () => Promise<void> }> {
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client);
    sockets.add(upstream);
    let bytes = 0;
    upstream.connect(Number(target.port), target.hostname);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      bytes += d.length;
      if (bytes > cutAfterBytes) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ldap://127.0.0.1:${port}`,
    cuts: () => cuts,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('run safety on OpenLDAP', () => {
  it('connection lost in the middle of a paged full pass: failed, nothing disabled; the next pass converges', async () => {
    const t = await setupPollerTest('cut');
    try {
      const dns: string[] = [];
      for (let i = 0; i < 120; i++) dns.push(await t.ldap.addUser(`cut${String(i).padStart(3, '0')}`, { title: 'before' }));
      const first = await t.run({ overrides: { connection: { pageSize: 20 } } });
      assert.equal(first.ok, true, first.reason);
      assert.equal(first.events?.users.length, 120);
      for (const dn of dns.slice(0, 5)) await t.ldap.client.del(dn);
      for (const dn of dns.slice(5, 25)) await t.ldap.modify(dn, { title: 'after' });

      const proxy = await startCuttingProxy(new URL(t.infra.openldap.url), 12_000);
      try {
        const cut = await t.run({ full: true, overrides: { connection: { urls: [proxy.url], pageSize: 20 } } });
        assert.equal(cut.ok, false);
        assert.ok(proxy.cuts() > 0, 'the proxy cut the connection');
        assert.equal(cut.events?.summary.status, 'failed');
        assert.match(cut.events?.summary.reason ?? '', /incomplete read/);
        assert.deepEqual(
          cut.events?.users.filter((e) => e.op === 'disabled'),
          [],
          'no user disabled by a failed run',
        );
        assert.ok((cut.events?.summary.counts.entriesRead ?? 120) < 115, 'the run stopped part-way');
        assert.equal(cut.events?.summary.cursorAfter, cut.events?.summary.cursorBefore, 'cursor unchanged');

        const next = await t.run({ full: true, overrides: { connection: { pageSize: 20 } } });
        assert.equal(next.ok, true, next.reason);
        const disabled = next.events?.users
          .filter((e) => e.op === 'disabled')
          .map((e) => e.state.loginName)
          .sort();
        assert.deepEqual(disabled, ['cut000', 'cut001', 'cut002', 'cut003', 'cut004']);
        // Every modification arrived exactly once across the failed and the converging run.
        const updated = [...(cut.events?.users ?? []), ...(next.events?.users ?? [])]
          .filter((e) => e.op === 'updated')
          .map((e) => e.state.loginName);
        assert.equal(updated.length, 20);
        assert.equal(new Set(updated).size, 20);
      } finally {
        await proxy.close();
      }
    } finally {
      await t.cleanup();
    }
  });

  it('a wrong users base DN halts and removes nothing', async () => {
    const t = await setupPollerTest('wrongbase');
    try {
      for (let i = 0; i < 5; i++) await t.ldap.addUser(`wb${i}`);
      assert.equal((await t.run()).ok, true);
      const r = await t.run({ full: true, overrides: { users: { baseDn: `ou=nowhere,${t.ldap.baseDn}` } } });
      assert.equal(r.ok, false);
      assert.equal(r.events?.summary.status, 'halted');
      assert.match(r.events?.summary.reason ?? '', /no users where 5 were known/);
      assert.deepEqual(r.events?.users, []);
    } finally {
      await t.cleanup();
    }
  });

  it('an empty result (filter matching nothing) halts and removes nothing', async () => {
    const t = await setupPollerTest('empty');
    try {
      for (let i = 0; i < 5; i++) await t.ldap.addUser(`em${i}`);
      assert.equal((await t.run()).ok, true);
      const r = await t.run({ full: true, overrides: { users: { filter: '(uid=nobody-has-this)' } } });
      assert.equal(r.events?.summary.status, 'halted');
      assert.deepEqual(r.events?.users, []);
      assert.deepEqual(r.events?.memberships, []);
    } finally {
      await t.cleanup();
    }
  });

  it('a mass removal over the threshold halts with a report until allowed', async () => {
    const t = await setupPollerTest('mass');
    try {
      const dns: string[] = [];
      for (let i = 0; i < 12; i++) dns.push(await t.ldap.addUser(`mass${String(i).padStart(2, '0')}`));
      const policies = { maxDisableCount: 5, maxDisablePercent: 100 };
      assert.equal((await t.run({ overrides: { policies } })).ok, true);
      for (const dn of dns.slice(0, 6)) await t.ldap.client.del(dn);
      const halted = await t.run({ full: true, overrides: { policies } });
      assert.equal(halted.ok, false);
      assert.equal(halted.events?.summary.status, 'halted');
      assert.match(halted.events?.summary.reason ?? '', /would disable 6 users, above the limit of 5/);
      assert.deepEqual(halted.events?.users, []);
      assert.equal(halted.result?.wouldDisable.length, 6, 'the report lists what it would have disabled');
      for (const line of halted.result?.wouldDisable ?? []) assert.match(line, /^mass0[0-5] \(.*\) removed-from-directory$/);
      // Still halted on the next run: nothing was applied in between.
      const again = await t.run({ full: true, overrides: { policies } });
      assert.equal(again.events?.summary.status, 'halted');
      const allowed = await t.run({ full: true, allowMassDisable: true, overrides: { policies } });
      assert.equal(allowed.ok, true, allowed.reason);
      assert.deepEqual(
        allowed.events?.users.map((e) => `${e.op}:${e.state.loginName}`).sort(),
        dns.slice(0, 6).map((_, i) => `disabled:mass0${i}`),
      );
    } finally {
      await t.cleanup();
    }
  });

  it('percent threshold: one of three users removed halts under the default 10 %', async () => {
    const t = await setupPollerTest('percent');
    try {
      const dns = [await t.ldap.addUser('p0'), await t.ldap.addUser('p1'), await t.ldap.addUser('p2')];
      const policies = { maxDisableCount: 100, maxDisablePercent: 10 };
      assert.equal((await t.run({ overrides: { policies } })).ok, true);
      await t.ldap.client.del(dns[0] as string);
      const r = await t.run({ overrides: { policies } });
      assert.equal(r.events?.summary.status, 'halted');
      assert.match(r.events?.summary.reason ?? '', /33\.3%/);
    } finally {
      await t.cleanup();
    }
  });
});
