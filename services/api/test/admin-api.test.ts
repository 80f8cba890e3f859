import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConsoleFixture, createConsoleFixture, ENTRY_ERRORS, FIXTURE_RUNS } from './console-fixture.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field and asserted
type Json = Record<string, any>;

/**
 * The admin API against a real pipeline: every endpoint, auth (401 / 403), paging, input errors
 * naming the field, sync now reaching a running `dirstream poller`, and no secret in any response
 * or log line.
 */
describe('admin API', { timeout: 600_000 }, () => {
  let fx: ConsoleFixture;
  const bodies: string[] = [];
  const getJson = async (path: string, token?: string | null) => {
    const res = await fx.fetch(path, token === undefined ? {} : { token });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
  };

  before(async () => {
    fx = await createConsoleFixture('console-api');
  });
  after(async () => {
    await fx?.close();
  });

  test('without a token, with an unknown one, or as a viewer on an operator action: refused', async () => {
    for (const path of ['/v1/profiles', '/v1/runs', '/v1/objects?q=alice', '/v1/dead-letters', '/v1/lag', '/ui/profiles']) {
      const none = await fx.fetch(path, { token: null });
      assert.equal(none.status, 401, path);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await fx.fetch(path, { token: `${fx.viewerToken}x` });
      assert.equal(wrong.status, 401, path);
      bodies.push(await none.text(), await wrong.text());
    }
    const profileId = fx.pipeline.profileId;
    const viewer = await fx.fetch(`/v1/profiles/${profileId}/sync`, { token: fx.viewerToken, method: 'POST', body: {} });
    assert.equal(viewer.status, 403);
    assert.equal(((await viewer.json()) as { code: string }).code, 'HTTP_FORBIDDEN');
    const noToken = await fx.fetch(`/v1/profiles/${profileId}/sync`, { token: null, method: 'POST', body: {} });
    assert.equal(noToken.status, 401);
    // The shell of the page and its static files carry no data and load without a token.
    const shell = await fx.fetch('/', { token: null });
    assert.equal(shell.status, 200);
    assert.match(shell.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fx.fetch('/assets/uplot.js', { token: null })).status, 200);
    const me = await getJson('/v1/me', fx.viewerToken);
    assert.deepEqual(me.body, { name: 'watcher', role: 'viewer' });
  });

  test('GET /v1/profiles: configuration with the secret masked, last run, delta mechanism and cursor', async () => {
    const { status, body } = await getJson('/v1/profiles');
    assert.equal(status, 200);
    const [profile] = body.profiles as Json[];
    assert.equal(profile?.id, fx.pipeline.profileId);
    assert.equal(profile?.config.connection.bindPassword, '***');
    assert.equal(profile?.lastRun.status, 'succeeded');
    assert.equal(profile?.lastRun.mode, 'full');
    assert.equal(profile?.badge, 'succeeded');
    assert.equal(profile?.delta.configured, 'auto');
    assert.equal(typeof profile?.delta.mechanism, 'string', JSON.stringify(profile?.delta));
    assert.ok(profile?.lastSuccessAt);
    const one = await getJson(`/v1/profiles/${fx.pipeline.profileId}`);
    assert.equal((one.body.profile as { id: string }).id, fx.pipeline.profileId);
    const missing = await getJson('/v1/profiles/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
  });

  test('GET /v1/runs: filters, keyset paging, and a run with its counts and changed objects', async () => {
    const all = await getJson(`/v1/runs?profile=${fx.pipeline.profileId}&status=succeeded&mode=full`);
    const runs = all.body.runs as Json[];
    assert.ok(runs.length >= 2, JSON.stringify(all.body));
    assert.ok(runs.every((r) => r.status === 'succeeded' && r.mode === 'full'));
    const first = await getJson('/v1/runs?limit=1');
    assert.equal((first.body.runs as unknown[]).length, 1);
    assert.equal(typeof first.body.nextCursor, 'string');
    const second = await getJson(`/v1/runs?limit=1&cursor=${first.body.nextCursor}`);
    const ids = [(first.body.runs as { runId: string }[])[0]?.runId, (second.body.runs as { runId: string }[])[0]?.runId];
    assert.notEqual(ids[0], ids[1], 'the second page starts after the first');
    const unfiltered = (await getJson('/v1/runs')).body.runs as Json[];
    assert.equal(unfiltered.length, FIXTURE_RUNS.length);
    assert.deepEqual(
      ids,
      unfiltered.slice(0, 2).map((r) => r.runId),
    );

    const firstRun = runs.at(-1);
    const detail = await getJson(`/v1/runs/${firstRun?.runId}`);
    assert.equal(detail.status, 200);
    const run = detail.body.run as Json;
    assert.equal(run.counts.created, 5);
    assert.ok(run.durationMs >= 0);
    assert.ok(run.phases !== null && Object.keys(run.phases).length > 0, JSON.stringify(run));
    // The entry without a login is an error of the run, with its DN.
    const errors = detail.body.errors as Json[];
    assert.ok(
      errors.some((e) => e.code === 'ENTRY_MISSING_ATTRIBUTE' && /^cn=nologin,/.test(e.dn)),
      JSON.stringify(errors),
    );
    const paged = await getJson(`/v1/runs/${firstRun?.runId}/errors?limit=1`);
    assert.equal((paged.body.errors as unknown[]).length, 1);
    // Every entry error, not only the 50 the run's summary keeps.
    assert.equal(detail.body.errorCount, ENTRY_ERRORS);
    const every: Json[] = [];
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page = await getJson(`/v1/runs/${firstRun?.runId}/errors?limit=25${cursor ? `&cursor=${cursor}` : ''}`);
      every.push(...(page.body.errors as Json[]));
      cursor = page.body.nextCursor as string | null;
    }
    assert.equal(every.length, ENTRY_ERRORS);
    assert.equal(new Set(every.map((e) => e.dn)).size, ENTRY_ERRORS);
    const changes = detail.body.changes as { entity: string; op: string }[];
    assert.ok(changes.some((c) => c.entity === 'user' && c.op === 'created'));
    assert.ok(changes.some((c) => c.entity === 'membership' && c.op === 'added'));
    assert.equal((await getJson('/v1/runs/no-such-run')).status, 404);
  });

  test('a halted run: its reason and its halt report', async () => {
    const halted = await getJson(`/v1/runs?profile=${fx.pipeline.profileId}&status=halted`);
    const [run] = halted.body.runs as Json[];
    assert.equal((halted.body.runs as unknown[]).length, 1);
    assert.ok(run?.reason.length > 0, JSON.stringify(run));
    const detail = await getJson(`/v1/runs/${run?.runId}`);
    const report = detail.body.haltReport as Json;
    assert.ok(report, JSON.stringify(detail.body));
    assert.equal(report.reason, run?.reason);
    assert.equal(report.total, 2);
    assert.deepEqual(report.wouldDisable.map((u: Json) => u.loginName).sort(), ['dave', 'erin']);
    assert.deepEqual((detail.body.changes as unknown[]).length, 0, 'a halted run applied nothing');
    const first = await getJson(`/v1/runs/${run?.runId}/would-disable?limit=1`);
    const second = await getJson(`/v1/runs/${run?.runId}/would-disable?limit=1&cursor=${first.body.nextCursor}`);
    const logins = [...(first.body.wouldDisable as Json[]), ...(second.body.wouldDisable as Json[])].map((u) => u.loginName).sort();
    assert.deepEqual(logins, ['dave', 'erin']);
    assert.equal(second.body.nextCursor, null);
    // dave's page says which halted run held back his disable.
    const found = await getJson('/v1/objects?q=dave');
    const dave = (found.body.objects as Json[])[0];
    const object = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(dave?.externalId)}`);
    assert.deepEqual(
      (object.body.object as Json).heldBack.map((h: Json) => h.runId),
      [run?.runId],
    );
  });

  test('bad input: a 400 that names the field', async () => {
    for (const [path, field] of [
      ['/v1/runs?status=exploded', 'query.status'],
      ['/v1/runs?limit=0', 'query.limit'],
      ['/v1/runs?profile=nope', 'query.profile'],
      ['/v1/runs?cursor=garbage', 'query.cursor'],
      ['/v1/objects?q=', 'query.q'],
      ['/v1/objects/not-a-uuid/x', 'params.profile'],
      ['/v1/dead-letters?limit=100000', 'query.limit'],
    ] as const) {
      const { status, body } = await getJson(path);
      assert.equal(status, 400, path);
      assert.equal(body.field, field, path);
    }
    const res = await fx.fetch(`/v1/profiles/${fx.pipeline.profileId}/sync`, { method: 'POST', body: { full: 'yes' } });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { field: string }).field, 'body.full');
    const unknown = await fx.fetch('/v1/profiles/00000000-0000-4000-8000-000000000000/sync', { method: 'POST', body: {} });
    assert.equal(unknown.status, 404);
    const extra = await fx.fetch(`/v1/profiles/${fx.pipeline.profileId}/sync`, { method: 'POST', body: { full: true, now: 1 } });
    assert.equal(((await extra.json()) as { field: string }).field, 'body');
  });

  test('GET /v1/objects: search by login, e-mail, DN, external ID; detail with groups, roles and timeline', async () => {
    const byLogin = await getJson('/v1/objects?q=ali');
    const hit = (byLogin.body.objects as Json[]).find((o) => o.name === 'alice');
    assert.ok(hit, JSON.stringify(byLogin.body));
    for (const q of ['alice@example.test', hit?.dn, fx.users.alice]) {
      const found = await getJson(`/v1/objects?q=${encodeURIComponent(q)}`);
      assert.ok(
        (found.body.objects as { externalId: string }[]).some((o) => o.externalId === fx.users.alice),
        q,
      );
    }
    const groupHit = await getJson('/v1/objects?q=staff');
    assert.ok((groupHit.body.objects as { kind: string }[]).some((o) => o.kind === 'group'));

    const alice = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(fx.users.alice)}`);
    const object = alice.body.object as Json;
    assert.equal(object.kind, 'user');
    assert.equal(object.state.login_name, 'alice');
    assert.deepEqual(object.directGroups.map((g: { name: string }) => g.name).sort(), ['admins', 'staff']);
    assert.deepEqual(object.roles, ['admin']);

    // bob: created, joined staff, renamed (old and new DN) in the second run.
    const bob = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(fx.users.bob)}`);
    const timeline = bob.body.timeline as Json[];
    const ops = timeline.map((e) => `${e.entity}:${e.op}`);
    assert.ok(ops.includes('user:created'), ops.join());
    assert.ok(ops.includes('membership:added'), ops.join());
    const renamed = timeline.find((e) => e.entity === 'user' && (e.op === 'renamed' || e.op === 'moved' || e.detail?.previousDn));
    assert.ok(renamed, ops.join());
    assert.match(renamed?.detail.previousDn, /^uid=bob,/);
    assert.match(renamed?.detail.dn, /^uid=bob2,/);
    assert.ok(timeline.every((e) => typeof e.runId === 'string'));

    // erin: disabled with its reason when she left, enabled when she came back (newest first).
    const erinHit = await getJson('/v1/objects?q=erin');
    const erinId = (erinHit.body.objects as Json[])[0]?.externalId;
    const erin = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(erinId)}`);
    const erinOps = (erin.body.timeline as Json[]).filter((e) => e.entity === 'user').map((e) => [e.op, e.detail?.disabledReason ?? null]);
    assert.deepEqual(erinOps, [
      ['enabled', null],
      ['disabled', 'removed-from-directory'],
      ['created', null],
    ]);

    // carol left staff: on her timeline and on the group's.
    const carol = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(fx.users.carol)}`);
    const left = (carol.body.timeline as Json[]).find((e) => e.entity === 'membership' && e.op === 'removed');
    assert.equal(left?.group.name, 'staff');
    const staff = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(fx.groups.staff)}`);
    assert.equal((staff.body.object as { memberCount: number }).memberCount, 2);
    assert.ok((staff.body.timeline as Json[]).some((e) => e.op === 'removed' && e.member?.name === 'carol'));

    const page1 = await getJson(`/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(fx.groups.staff)}/timeline?limit=2`);
    assert.equal((page1.body.timeline as unknown[]).length, 2);
    const page2 = await getJson(
      `/v1/objects/${fx.pipeline.profileId}/${encodeURIComponent(fx.groups.staff)}/timeline?limit=2&cursor=${page1.body.nextCursor}`,
    );
    const idsOf = (b: Record<string, unknown>) => (b.timeline as { id: number }[]).map((e) => e.id);
    assert.ok(Math.max(...idsOf(page2.body)) < Math.min(...idsOf(page1.body)));
    assert.equal((await getJson(`/v1/objects/${fx.pipeline.profileId}/nobody`)).status, 404);
  });

  test('GET /v1/dead-letters and /v1/lag', async () => {
    const dead = await getJson('/v1/dead-letters');
    assert.equal(dead.status, 200, JSON.stringify(dead.body));
    const letters = dead.body.deadLetters as Json[];
    assert.equal(dead.body.total, 1);
    assert.equal(letters[0]?.code, 'EVENT_DECODE_FAILED');
    assert.match(letters[0]?.sourceTopic, /\.users$/);
    assert.ok(letters[0]?.reason.length > 0);

    const lag = await getJson('/v1/lag');
    assert.equal(lag.status, 200);
    assert.equal(lag.body.total, 0, JSON.stringify(lag.body));
    assert.equal(lag.body.outboxBacklog, 0);
    const lagTopics = new Set((lag.body.partitions as { topic: string }[]).map((p) => p.topic.slice(fx.pipeline.prefix.length + 1)));
    assert.deepEqual([...lagTopics].sort(), ['groups', 'memberships', 'run-details', 'sync-runs', 'users']);
    const charts = await getJson('/v1/charts?hours=1');
    assert.ok((charts.body.runs as unknown[]).length >= 2);
    assert.ok((charts.body.appliedPerMinute as unknown[]).length >= 1);
  });

  test('POST /v1/profiles/{id}/sync reaches the running poller and returns the run ID', async () => {
    const poller = fx.pipeline.startPoller();
    const applier = fx.pipeline.startApplier();
    try {
      // The scheduled poller holds the profile's lock once its boot run is done.
      const deadline = Date.now() + 90_000;
      for (;;) {
        const { body } = await getJson('/v1/profiles');
        const profile = (body.profiles as Json[])[0];
        if (profile?.lock !== null && profile?.currentRun === null && profile?.pendingRun === null) break;
        if (Date.now() > deadline)
          throw new Error(`no poller took the profile: ${JSON.stringify(profile)}\n${poller.output().stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      const requestedAt = Date.now();
      const res = await fx.fetch(`/v1/profiles/${fx.pipeline.profileId}/sync`, { method: 'POST', body: { full: true } });
      const body = (await res.json()) as { runId: string; coalesced: boolean };
      bodies.push(JSON.stringify(body));
      assert.equal(res.status, 202);
      assert.equal(typeof body.runId, 'string');
      let startedAfterMs: number | null = null;
      for (;;) {
        const state = await getJson(`/v1/sync-requests/${body.runId}`);
        const request = state.body.request as { startedAt: string | null } | null;
        if (startedAfterMs === null && request?.startedAt) startedAfterMs = Date.parse(request.startedAt) - requestedAt;
        if (state.body.run !== null) break;
        if (Date.now() > deadline + 60_000) throw new Error(`run ${body.runId} never recorded: ${JSON.stringify(state.body)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      console.log(`# sync now: run started ${startedAfterMs} ms after the request`);
      const run = await getJson(`/v1/runs/${body.runId}`);
      assert.equal((run.body.run as { mode: string }).mode, 'full');
      assert.ok(startedAfterMs !== null && startedAfterMs <= 5_000, `started after ${startedAfterMs} ms`);
    } finally {
      await Promise.all([poller.stop(), applier.stop()]);
    }
  });

  test('no secret in any response or log line', async () => {
    const pages = await Promise.all(
      ['/ui/profiles', '/ui/runs', `/ui/objects?q=alice`, '/ui/activity', '/ui/dead-letters'].map((p) => fx.fetch(p)),
    );
    for (const page of pages) {
      assert.equal(page.status, 200);
      bodies.push(await page.text());
    }
    const everything = `${bodies.join('\n')}\n${fx.logs()}`;
    assert.ok(bodies.length > 30);
    for (const secret of fx.secrets) {
      assert.ok(secret.length >= 6);
      assert.equal(everything.includes(secret), false, 'a secret leaked into a response or the log');
    }
  });
});
