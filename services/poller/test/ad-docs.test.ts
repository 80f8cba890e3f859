/**
 * The sample profile of docs/active-directory.md works as written: the YAML block is loaded as
 * it stands (relative paths against the repository root) and polled once through Kafka and
 * PostgreSQL. Only the topic prefix and the state database are this test's own; the profile is
 * untouched. The StartTLS variant of the same page is checked the same way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DirstreamConfig, loadConfigFromText } from '@dirstream/config';
import { createSilentLogger } from '@dirstream/logging';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, type TestDatabase, uniquePrefix } from '@dirstream/testing';
import { parse, stringify } from 'yaml';
import { runPoller } from '../src/run/poller.ts';
import type { SyncResult } from '../src/run/sync-run.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const DOC = resolve(REPO, 'docs', 'active-directory.md');

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

async function pollOnce(config: DirstreamConfig, full = false): Promise<SyncResult[]> {
  const results: SyncResult[] = [];
  const outcome = await runPoller(
    { config, logger: createSilentLogger(), signal: new AbortController().signal },
    { once: true, full },
    { onRun: (r) => results.push(r) },
  );
  assert.equal(outcome.ok, true, outcome.reason);
  return results;
}

describe('docs/active-directory.md sample profile', () => {
  const infra = loadInfra();
  const prefix = uniquePrefix('ad-docs');
  let database: TestDatabase;
  let sample: DirstreamConfig;
  const blocks = yamlBlocks(readFileSync(DOC, 'utf8'));

  before(async () => {
    database = await createTestDatabase(infra, 'ad-docs');
    sample = await loadConfigFromText(blocks[0]!, { sourceName: DOC, env: {}, baseDir: REPO });
  });
  after(async () => {
    await database?.drop();
    const admin = createKafka(infra).admin();
    await admin.connect();
    await deleteTopics(admin, prefix).catch(() => undefined);
    await admin.disconnect();
  });

  const isolated = (config: DirstreamConfig): DirstreamConfig => ({
    ...config,
    kafka: { ...config.kafka, topicPrefix: prefix },
    database: { ...config.database, url: database.url },
  });

  it('the LDAPS sample: a full pass, then a delta pass with nothing to say', async () => {
    assert.equal(sample.profiles.length, 1);
    const profile = sample.profiles[0]!;
    assert.equal(profile.directory, 'active-directory');
    assert.equal(profile.connection.tls.rejectUnauthorized, true);
    const [full] = await pollOnce(isolated(sample));
    assert.equal(full!.status, 'succeeded', full!.reason ?? '');
    assert.equal(full!.mode, 'full');
    const counts = full!.summary.counts;
    const fixture = infra.samba!.fixture as { users: number; passwordUsers: number; bulkMembers: number };
    assert.equal(counts.created, fixture.users + fixture.passwordUsers + fixture.bulkMembers);
    assert.ok(counts.groupsCreated >= 10, `groups: ${counts.groupsCreated}`);
    assert.ok(counts.membershipsAdded >= fixture.bulkMembers + fixture.users, `memberships: ${counts.membershipsAdded}`);
    assert.equal(counts.errors, 0);
    const [delta] = await pollOnce(isolated(sample));
    assert.equal(delta!.mode, 'delta');
    const d = delta!.summary.counts;
    assert.deepEqual(
      [d.created, d.updated, d.renamed, d.moved, d.disabled, d.enabled, d.membershipsAdded, d.membershipsRemoved, d.errors],
      [0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });

  it('the StartTLS variant connects and reads with the same profile', async () => {
    const raw = parse(blocks[0]!) as { profiles: Record<string, unknown>[] };
    const startTls = parse(blocks[1]!) as { connection: Record<string, unknown> };
    const profile = {
      ...raw.profiles[0]!,
      id: '6f1c1d3e-2b7a-4c55-9a0e-8d4f3b2a1c02',
      name: 'corp-ad-starttls',
      connection: startTls.connection,
    };
    const config = await loadConfigFromText(stringify({ ...raw, profiles: [profile] }), { sourceName: DOC, env: {}, baseDir: REPO });
    assert.equal(config.profiles[0]!.connection.startTls, true);
    const [full] = await pollOnce(isolated(config));
    assert.equal(full!.status, 'succeeded', full!.reason ?? '');
    assert.ok(full!.summary.counts.created > 0);
  });
});
