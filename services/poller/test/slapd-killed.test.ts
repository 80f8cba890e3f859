/**
 * slapd killed (SIGKILL) in the middle of a paged full pass, on a PRIVATE slapd (the shared one
 * serves the other tests): the run fails, nothing is disabled, the next pass converges.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadConfigFromText } from '@dirstream/config';
import { Attribute, Change, Client } from 'ldapts';
import { createSilentLogger } from '@dirstream/logging';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, uniquePrefix } from '@dirstream/testing';
import { createSlapd, slapdInstance, slapdPid, startSlapd, stopSlapd } from '../../../infra/local/openldap.ts';
import { readPid } from '../../../infra/local/process.ts';
import { runPoller } from '../src/run/poller.ts';
import type { SyncResult } from '../src/run/sync-run.ts';

it('slapd killed mid-pass: failed run, no removal; the next pass converges', async () => {
  const infra = loadInfra();
  const dir = mkdtempSync(join(tmpdir(), 'dirstream-poller-kill-'));
  const instance = slapdInstance({ dir: join(dir, 'slapd'), port: 38_000 + Math.floor(Math.random() * 400) });
  const database = await createTestDatabase(infra, 'killed');
  const prefix = uniquePrefix('killed');
  try {
    const people = `ou=people,${instance.suffix}`;
    let ldif = `dn: ${people}\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n\n`;
    for (let i = 0; i < 200; i++) {
      ldif += `dn: uid=k${i},${people}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: k${i}\ncn: K ${i}\nsn: k\n\n`;
    }
    writeFileSync(join(dir, 'seed.ldif'), ldif);
    await createSlapd(instance, [join(dir, 'seed.ldif')]);
    await startSlapd(instance);
    const raw = {
      kafka: { brokers: infra.kafka.brokers, topicPrefix: prefix, partitions: 2 },
      database: { url: database.url, poolSize: 4 },
      profiles: [
        {
          id: '6a1f3c55-1c9e-4e57-9a59-0c1b7f3d2e11',
          name: 'killed',
          directory: 'openldap',
          connection: {
            urls: [instance.url],
            bindDn: instance.adminDn,
            bindPassword: { env: 'PW' },
            pageSize: 20,
            connectTimeoutMs: 1_000,
            timeoutMs: 5_000,
          },
          users: { baseDn: people },
          policies: { maxDisableCount: 1000, maxDisablePercent: 100 },
        },
      ],
    };
    const config = await loadConfigFromText(JSON.stringify(raw), { sourceName: 'killed.yaml', env: { PW: instance.adminPassword } });
    const run = async (hooks?: { afterProduce?: (i: { batch: number }) => void }) => {
      let result: SyncResult | null = null;
      const outcome = await runPoller(
        { config, logger: createSilentLogger(), signal: new AbortController().signal },
        { once: true, full: true },
        {
          hooks,
          onRun: (r) => {
            result = r;
          },
        },
      );
      return { outcome, result: result as SyncResult | null };
    };
    const first = await run();
    assert.equal(first.outcome.ok, true, first.outcome.reason);
    assert.equal(first.result?.summary.counts.created, 200);

    // Changes, so every page produces a batch: 5 deletions (removals) and 20 modifications.
    const client = new Client({ url: instance.url });
    await client.bind(instance.adminDn, instance.adminPassword);
    for (let i = 0; i < 5; i++) await client.del(`uid=k${i},${people}`);
    for (let i = 5; i < 200; i += 10) {
      await client.modify(
        `uid=k${i},${people}`,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['x'] }) }),
      );
    }
    await client.unbind();

    const broken = await run({
      afterProduce: ({ batch }) => {
        if (batch !== 1) return;
        const pid = readPid(slapdPid(instance));
        if (pid) process.kill(pid, 'SIGKILL');
      },
    });
    assert.equal(broken.outcome.ok, false);
    assert.equal(broken.result?.status, 'failed');
    assert.equal(broken.result?.summary.counts.disabled, 0, 'nothing disabled by the failed run');
    assert.ok((broken.result?.summary.counts.entriesRead ?? 200) < 200, 'the pass was cut');

    await stopSlapd(instance);
    await startSlapd(instance);
    const next = await run();
    assert.equal(next.outcome.ok, true, next.outcome.reason);
    assert.equal(next.result?.summary.counts.disabled, 5);
    assert.equal((broken.result?.summary.counts.updated ?? 0) + (next.result?.summary.counts.updated ?? 0), 20);
  } finally {
    await stopSlapd(instance).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await database.drop().catch(() => undefined);
    const admin = createKafka(infra).admin();
    await admin.connect();
    await deleteTopics(admin, prefix).catch(() => undefined);
    await admin.disconnect();
  }
});
