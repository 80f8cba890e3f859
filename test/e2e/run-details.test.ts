/**
 * A run's details through the whole pipeline, driven like an operator would: `dirstream poller`
 * on a long interval, `dirstream sync --wait` to run now, `dirstream status` to look. Every entry
 * error of a run with more than 50 bad entries, and every user a halted run would have disabled,
 * end up in the database per run; the poller's /metrics shows the runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { until } from '@dirstream/testing';
import { type CommandResult, createPipeline, describeResult, type Pipeline, type RunningProcess } from '../support/pipeline.ts';

const BAD = 60;
const GOOD = 20;
const GONE = 8;

function runIdOf(result: CommandResult): string {
  const id = result.stdout.trim();
  assert.match(id, /^[0-9a-f-]{36}$/, describeResult(result));
  return id;
}

describe('run details in the database', () => {
  let pipeline: Pipeline;
  let poller: RunningProcess;
  const badDns: string[] = [];
  const goodDns: string[] = [];

  before(async () => {
    pipeline = await createPipeline({
      label: 'run-details',
      logLevel: 'info',
      profile: { schedule: { intervalSeconds: 3_600 }, policies: { maxDisableCount: 3, maxDisablePercent: 100 }, groups: null },
    });
    const { ldap } = pipeline;
    for (let i = 0; i < GOOD; i++) goodDns.push(await ldap.addUser(`fine${String(i).padStart(2, '0')}`));
    // inetOrgPerson allows an entry without uid; the profile requires it (the login name).
    for (let i = 0; i < BAD; i++) {
      const dn = `cn=No Login ${i},${ldap.peopleDn}`;
      await ldap.client.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: `No Login ${i}`, sn: 'x' });
      badDns.push(dn);
    }
    poller = pipeline.startPoller();
    pipeline.startApplier();
  });
  after(async () => {
    await pipeline?.cleanup();
  });

  test('every entry error of the run is stored, not only the first 50', async () => {
    const sync = await pipeline.cli(['sync', '--profile', pipeline.profileId, '--full', '--wait'], { timeoutMs: 120_000 });
    assert.equal(sync.code, 0, describeResult(sync));
    const runId = runIdOf(sync);
    const rows = await until('the errors in the database', async () => {
      const found = await pipeline.query<{ dn: string | null; code: string }>('select dn, code from sync_run_errors where run_id = $1', [
        runId,
      ]);
      return found.length >= BAD ? found : null;
    });
    assert.deepEqual(rows.map((r) => r.dn?.toLowerCase()).sort(), badDns.map((d) => d.toLowerCase()).sort());
    const [run] = await until('the run in the database', () =>
      pipeline
        .query<{ counts: { errors: number }; errors: unknown[]; phases_ms: Record<string, number> | null }>(
          'select counts, errors, phases_ms from sync_runs where run_id = $1',
          [runId],
        )
        .then((r) => (r.length > 0 ? r : null)),
    );
    assert.equal(run?.counts.errors, BAD);
    assert.equal(run?.errors.length, 50, 'the summary keeps its first 50');
    assert.ok(run?.phases_ms && typeof run.phases_ms.users === 'number', 'phase timings stored');
  });

  test('a halted run stores every user it would have disabled', async () => {
    const gone = goodDns.slice(0, GONE);
    for (const dn of gone) await pipeline.ldap.client.del(dn);
    const sync = await pipeline.cli(['sync', '--profile', pipeline.profileId, '--full', '--wait'], { timeoutMs: 120_000 });
    assert.equal(sync.code, 1, describeResult(sync));
    assert.match(sync.stderr, /halted/);
    const runId = runIdOf(sync);
    const rows = await until('the halt report in the database', async () => {
      const found = await pipeline.query<{ dn: string; login_name: string; reason: string | null }>(
        'select dn, login_name, reason from sync_run_would_disable where run_id = $1',
        [runId],
      );
      return found.length >= GONE ? found : null;
    });
    assert.deepEqual(rows.map((r) => r.dn.toLowerCase()).sort(), gone.map((d) => d.toLowerCase()).sort());
    assert.ok(rows.every((r) => r.reason === 'removed-from-directory'));
    const [run] = await until('the halted run', () =>
      pipeline.query<{ status: string }>('select status from sync_runs where run_id = $1', [runId]).then((r) => (r.length > 0 ? r : null)),
    );
    assert.equal(run?.status, 'halted');
  });

  test('dirstream status shows the profile, its last run and the lock holder', async () => {
    const status = await pipeline.cli(['status']);
    assert.equal(status.code, 0, describeResult(status));
    console.log(status.stdout);
    const line = status.stdout.split('\n').find((l) => l.startsWith('run-details'));
    assert.ok(line, status.stdout);
    assert.match(line, /\bhalted\b/);
    assert.match(line, /\bfull\b/);
    assert.match(line, new RegExp(`:${poller.pid} \\(scheduled`));
    assert.match(line, /in (59m|1h)/, 'next run one interval after the last');
  });

  test('the poller serves its metrics', async () => {
    const listening = poller
      .output()
      .stdout.split('\n')
      .filter((l) => l.includes('poller metrics listening'))
      .map((l) => JSON.parse(l) as { metricsPort: number })[0];
    assert.ok(listening, 'the poller logged where its metrics listen');
    const body = await (await fetch(`http://127.0.0.1:${listening.metricsPort}/metrics`)).text();
    const p = `profile_id="${pipeline.profileId}"`;
    assert.match(body, new RegExp(`dirstream_poller_runs_total\\{${p},status="halted",mode="full"\\} 1\\b`));
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(body)?.[1]);
    // Every run read every bad entry: the boot run (unless the first request was the boot run),
    // the requested full run and the halted one.
    const succeeded = value(`dirstream_poller_runs_total{${p},status="succeeded",mode="full"}`);
    assert.ok(succeeded >= 1);
    assert.equal(value(`dirstream_poller_entry_errors_total{${p}}`), (succeeded + 1) * BAD);
    assert.match(body, new RegExp(`dirstream_poller_lock_held\\{${p}\\} 1\\b`));
  });
});
