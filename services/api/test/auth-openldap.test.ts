/**
 * Sign-in against OpenLDAP (slapd with userPassword), end to end: the users are synced by the
 * real poller and applier (test/support/pipeline.ts), `dirstream serve` binds as them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createCodec, topicNames } from '@dirstream/events';
import { createSilentLogger } from '@dirstream/logging';
import { createKafka, readTopics, until } from '@dirstream/testing';
import { createPipeline, type Pipeline } from '../../../test/support/pipeline.ts';
import { createProfileDirectory } from '../src/auth/directory.ts';
import { LOG_LINES, serveConfig, startServe, type TestServe } from './auth-support.ts';

const password = (name: string) => `${name}-${randomBytes(9).toString('base64url')}`;
const PASSWORDS = {
  alice: password('alice'),
  bob: password('bob'),
  dora: password('dora'),
  mover: password('mover'),
  carol: password('carol'),
  limited: password('limited'),
};

const INVALID = { code: 'AUTH_INVALID_CREDENTIALS' };

let pipeline: Pipeline;
let api: TestServe;
let aliceId = '';

before(async () => {
  pipeline = await createPipeline({
    label: 'auth-ldap',
    profile: {
      users: { disabledFilter: '(employeeType=inactive)' },
      policies: { groupRoles: { 'team-a': ['editor'], everyone: ['reader'] } },
      schedule: { intervalSeconds: 30 },
    },
  });
  const { ldap } = pipeline;
  const alice = await ldap.addUser('alice', { userPassword: PASSWORDS.alice, displayName: 'Alice Liddell' });
  const bob = await ldap.addUser('bob', { userPassword: PASSWORDS.bob });
  await ldap.addUser('dora', { userPassword: PASSWORDS.dora });
  await ldap.addUser('mover', { userPassword: PASSWORDS.mover });
  await ldap.addUser('limited', { userPassword: PASSWORDS.limited });
  await ldap.client.add(`ou=elsewhere,${ldap.peopleDn}`, { objectClass: ['top', 'organizationalUnit'], ou: 'elsewhere' });
  const team = await ldap.addGroup('team-a', [alice]);
  await ldap.addGroup('everyone', [team, bob]);
  const poll = await pipeline.runPoller(['--full']);
  assert.equal(poll.code, 0, poll.stderr);
  await pipeline.applyUntilCaughtUp();
  const [row] = await pipeline.query<{ external_id: string }>("select external_id from users where login_name = 'alice'");
  aliceId = row?.external_id ?? '';
  api = await startServe(serveConfig(pipeline.config));
});

after(async () => {
  await api?.close();
  await pipeline?.cleanup();
});

describe('sign-in against OpenLDAP', () => {
  it('accepts the directory password and answers the user with effective groups and roles', async () => {
    const { status, body } = await api.authenticate({ login: 'ALICE', password: PASSWORDS.alice });
    assert.equal(status, 200, JSON.stringify(body));
    const user = body.user as Record<string, unknown>;
    assert.equal(user.profileId, pipeline.profileId);
    assert.equal(user.externalId, aliceId);
    assert.equal(user.loginName, 'alice');
    assert.equal(user.displayName, 'Alice Liddell');
    assert.deepEqual(user.emails, ['alice@example.test']);
    assert.deepEqual((user.groups as { name: string }[]).map((g) => g.name).sort(), ['everyone', 'team-a']);
    assert.deepEqual(user.roles, ['editor', 'reader']);
    assert.equal(body.synced, true);
  });

  it('answers a wrong password and an unknown login with the same 401 body', async () => {
    const wrong = await api.authenticate({ login: 'alice', password: 'not-her-password' });
    const unknown = await api.authenticate({ login: 'nobody-here', password: 'whatever-1' });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.body, INVALID);
    assert.deepEqual(unknown.body, INVALID);
  });

  it('answers every 401 no sooner than the failure floor, and a success without waiting for it', async () => {
    const floored = await startServe(serveConfig(pipeline.config, { failureFloorMs: 120 }));
    try {
      const timed = async (body: Record<string, string>) => {
        const t = performance.now();
        const { status } = await floored.authenticate(body);
        return { status, ms: performance.now() - t };
      };
      for (const body of [
        { login: 'alice', password: 'wrong-1' },
        { login: 'nobody-at-all', password: 'wrong-2' },
      ]) {
        const { status, ms } = await timed(body);
        assert.equal(status, 401);
        assert.ok(ms >= 119, `${body.login}: ${ms} ms`);
      }
      const ok = await timed({ login: 'alice', password: PASSWORDS.alice });
      assert.equal(ok.status, 200);
    } finally {
      await floored.close();
    }
  });

  it('refuses an empty or whitespace-only password before any directory call', async () => {
    // A serve whose directory does not exist: a bind would be a 503, the refusal is a 400.
    const offline = await startServe(serveConfig(pipeline.config, {}, () => ({ urls: ['ldap://127.0.0.1:1'] })));
    try {
      for (const pw of ['', ' ', '\t \n']) {
        const { status, body } = await offline.authenticate({ login: 'alice', password: pw });
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(body.field, 'body.password');
      }
      const missing = await offline.authenticate({ login: 'alice' });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.field, 'body.password');
    } finally {
      await offline.close();
    }
  });

  it('refuses a user disabled in the database but not yet in the directory (403), with the right password only', async () => {
    await pipeline.query("update users set enabled = false, disabled_reason = 'directory-disabled' where login_name = 'bob'");
    try {
      assert.deepEqual(await api.authenticate({ login: 'bob', password: 'wrong-one' }).then((r) => [r.status, r.body]), [401, INVALID]);
      const { status, body } = await api.authenticate({ login: 'bob', password: PASSWORDS.bob });
      assert.equal(status, 403);
      assert.deepEqual(body, { code: 'AUTH_ACCOUNT_DISABLED' });
    } finally {
      await pipeline.query("update users set enabled = true, disabled_reason = null where login_name = 'bob'");
    }
  });

  it('answers a known login from the lookup cache, which every committed change clears at once', async () => {
    await until('the lookup cache to be live', async () => api.serve.auth.cacheLive);
    const name = async () =>
      ((await api.authenticate({ login: 'alice', password: PASSWORDS.alice })).body.user as { displayName: string }).displayName;
    // The previous tests' last commits may still be announcing themselves: sign in until one answer comes from memory.
    await until('a sign-in answered from the cache', async () => {
      const before = api.serve.auth.lookups();
      assert.equal(await name(), 'Alice Liddell');
      const now = api.serve.auth.lookups();
      return now.cache === before.cache + 1 && now.database === before.database;
    });
    // A write that fires no trigger (replica role) is invisible to the cache: the answer came from memory.
    await pipeline.query(
      "begin; set local session_replication_role = replica; update users set display_name = 'Alice Unseen' where login_name = 'alice'; commit",
    );
    assert.equal(await name(), 'Alice Liddell');
    // Any committed change the triggers see clears it: the very next sign-in reads the database.
    await pipeline.query("update users set display_name = 'Alice Liddell' where login_name = 'alice'");
    assert.equal(await name(), 'Alice Liddell');
    await pipeline.query("update users set display_name = 'Alice Pleasance' where login_name = 'alice'");
    assert.equal(await name(), 'Alice Pleasance');
    await pipeline.query("update users set display_name = 'Alice Liddell' where login_name = 'alice'");
    assert.equal(await name(), 'Alice Liddell');
  });

  it('refuses a user disabled in the database right after the commit, each time, with the lookup cache live', async () => {
    assert.equal(api.serve.auth.cacheLive, true);
    for (let i = 0; i < 10; i++) {
      await pipeline.query("update users set enabled = false, disabled_reason = 'directory-disabled' where login_name = 'bob'");
      assert.deepEqual(
        await api.authenticate({ login: 'bob', password: PASSWORDS.bob }).then((r) => [r.status, r.body]),
        [403, { code: 'AUTH_ACCOUNT_DISABLED' }],
        `round ${i}`,
      );
      await pipeline.query("update users set enabled = true, disabled_reason = null where login_name = 'bob'");
      assert.equal((await api.authenticate({ login: 'bob', password: PASSWORDS.bob })).status, 200, `round ${i}`);
    }
  });

  it('reads the database while the cache LISTEN connection is down, and clears the cache when it is back', async () => {
    const name = async () =>
      ((await api.authenticate({ login: 'alice', password: PASSWORDS.alice })).body.user as { displayName: string }).displayName;
    assert.equal(await name(), 'Alice Liddell');
    await pipeline.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen %'",
    );
    await until('the lookup cache to go off', async () => !api.serve.auth.cacheLive);
    try {
      await pipeline.query(
        "begin; set local session_replication_role = replica; update users set display_name = 'Alice Offline' where login_name = 'alice'; commit",
      );
      const before = api.serve.auth.lookups();
      assert.equal(await name(), 'Alice Offline');
      assert.equal(api.serve.auth.lookups().cache, before.cache, 'no answer from memory while the LISTEN is down');
      await until('the lookup cache to be live again', async () => api.serve.auth.cacheLive, { timeoutMs: 30_000 });
      assert.equal(await name(), 'Alice Offline');
    } finally {
      await pipeline.query("update users set display_name = 'Alice Liddell' where login_name = 'alice'");
    }
  });

  it('refuses a user disabled in the directory but not yet in the database (the profile disabled rule, read as the user)', async () => {
    const dn = `uid=dora,${pipeline.ldap.peopleDn}`;
    assert.equal((await api.authenticate({ login: 'dora', password: PASSWORDS.dora })).status, 200);
    await pipeline.ldap.modify(dn, { employeeType: 'inactive' });
    const { status, body } = await api.authenticate({ login: 'dora', password: PASSWORDS.dora });
    assert.equal(status, 403);
    assert.deepEqual(body, { code: 'AUTH_ACCOUNT_DISABLED' });
  });

  it('follows a user moved since the last sync (stale DN: re-resolved by entryUUID, bound once more)', async () => {
    await pipeline.ldap.client.modifyDN(`uid=mover,${pipeline.ldap.peopleDn}`, `uid=mover,ou=elsewhere,${pipeline.ldap.peopleDn}`);
    const [row] = await pipeline.query<{ dn: string }>("select dn from users where login_name = 'mover'");
    assert.doesNotMatch(row?.dn ?? '', /ou=elsewhere/, 'the database still has the old DN');
    const { status, body } = await api.authenticate({ login: 'mover', password: PASSWORDS.mover });
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(await api.authenticate({ login: 'mover', password: 'bad-guess' }).then((r) => r.body), INVALID);
  });

  it('answers 503 naming the profile when no directory server answers, never accepting', async () => {
    const down = await startServe(
      serveConfig(pipeline.config, {}, () => ({ urls: ['ldap://127.0.0.1:1', 'ldap://127.0.0.1:2'], connectTimeoutMs: 1_000 })),
    );
    try {
      const { status, body } = await down.authenticate({ login: 'alice', password: PASSWORDS.alice });
      assert.equal(status, 503, JSON.stringify(body));
      assert.deepEqual(body, { code: 'AUTH_DIRECTORY_UNAVAILABLE', profiles: ['auth-ldap'] });
      const ready = await down.serve.publicApp.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.ok(ready.json().checks.some((c: { name: string; ok: boolean }) => c.name === 'directory:auth-ldap' && !c.ok));
    } finally {
      await down.close();
    }
  });

  it('fails over to the second URL when the first does not answer', async () => {
    const failover = await startServe(
      serveConfig(pipeline.config, {}, (p) => ({ urls: ['ldap://127.0.0.1:1', ...p.connection.urls], connectTimeoutMs: 1_000 })),
    );
    try {
      const { status, body } = await failover.authenticate({ login: 'alice', password: PASSWORDS.alice });
      assert.equal(status, 200, JSON.stringify(body));
      const ready = await failover.serve.publicApp.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200, ready.body);
    } finally {
      await failover.close();
    }
  });

  it('rate-limits failed attempts per login (before the directory would lock the user) and per client address', async () => {
    const limited = await startServe(
      serveConfig(pipeline.config, {
        rateLimit: { perLogin: { failures: 3, windowSeconds: 60 }, perClient: { failures: 5, windowSeconds: 60 } },
      }),
    );
    try {
      for (let i = 0; i < 3; i++)
        assert.equal((await limited.authenticate({ login: 'limited', password: `guess-${i}` }, { remoteAddress: '10.0.0.1' })).status, 401);
      // Another spelling of the same login, from another address: still the same user's budget.
      const blocked = await limited.authenticate({ login: 'LIMITED', password: PASSWORDS.limited }, { remoteAddress: '10.0.0.2' });
      assert.equal(blocked.status, 429);
      assert.deepEqual(blocked.body, { code: 'AUTH_RATE_LIMITED' });
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      // A success clears a login's count; other users are not affected.
      assert.equal((await limited.authenticate({ login: 'alice', password: PASSWORDS.alice }, { remoteAddress: '10.0.0.2' })).status, 200);
      // Per client: five failures from one address, whatever the logins.
      for (let i = 0; i < 5; i++)
        assert.equal((await limited.authenticate({ login: `spray-${i}`, password: 'x-guess' }, { remoteAddress: '10.0.0.3' })).status, 401);
      assert.equal((await limited.authenticate({ login: 'alice', password: PASSWORDS.alice }, { remoteAddress: '10.0.0.3' })).status, 429);
      assert.equal((await limited.authenticate({ login: 'alice', password: PASSWORDS.alice }, { remoteAddress: '10.0.0.4' })).status, 200);
    } finally {
      await limited.close();
    }
  });

  it('never authenticates anyone through the injection corpus, and escapes it on the way to the directory', async () => {
    const corpus = ['*', ')(uid=*', '*)(|(objectClass=*', '\\', 'admin)(&)', 'alice)(uid=*', 'al*', '*)(userPassword=*'];
    for (const login of corpus) {
      const { status, body } = await api.authenticate({ login, password: PASSWORDS.alice });
      assert.equal(status, 401, `${JSON.stringify(login)} → ${status} ${JSON.stringify(body)}`);
      assert.deepEqual(body, INVALID);
    }
    for (const login of ['alice\u0000', 'a'.repeat(10_000)]) {
      const { status, body } = await api.authenticate({ login, password: PASSWORDS.alice });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.field, 'body.login');
    }
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"login":"al'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(`ice","password":"${PASSWORDS.alice}"}`),
    ]);
    const bad = await api.authenticate(null, { raw: invalidUtf8 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body');
    for (const body of [
      { login: 7, password: PASSWORDS.alice },
      { login: 'alice', password: ['x'] },
      { login: '\ud800', password: 'x1' },
    ]) {
      assert.equal((await api.authenticate(body)).status, 400, JSON.stringify(body));
    }
    // What the directory is asked: the same search a raw `*` would widen to every user finds nothing.
    const directory = createProfileDirectory(pipeline.config.profiles[0]!, createSilentLogger());
    try {
      for (const login of corpus) assert.deepEqual(await directory.findByLogin(login, login, 10), [], login);
      assert.equal((await directory.findByLogin('alice', null, 10)).length, 1);
    } finally {
      await directory.close();
    }
  });

  it('signs in a user the database does not have yet: a sync through the active poller, the event on the topic, the row stored', async () => {
    const poller = pipeline.startPoller();
    const applier = pipeline.startApplier();
    try {
      await pipeline.ldap.addUser('carol', { userPassword: PASSWORDS.carol });
      const started = Date.now();
      const { status, body } = await api.authenticate({ login: 'carol', password: PASSWORDS.carol });
      assert.equal(status, 200, `${JSON.stringify(body)}\n${poller.output().stdout.slice(-2000)}`);
      assert.equal(body.synced, true, `answered from the directory read after ${Date.now() - started} ms`);
      const user = body.user as { externalId: string; loginName: string };
      assert.equal(user.loginName, 'carol');
      const rows = await pipeline.query<{ external_id: string }>("select external_id from users where login_name = 'carol'");
      assert.deepEqual(
        rows.map((r) => r.external_id),
        [user.externalId],
      );
      const codec = createCodec();
      const records = await readTopics(createKafka(pipeline.infra), [topicNames(pipeline.prefix).users]);
      const events = records.filter((r) => r.value !== null).map((r) => codec.decode('user-event', r.value as Buffer));
      assert.ok(events.some((e) => e.externalId === user.externalId && e.op === 'created' && e.source.mode === 'delta'));
    } finally {
      await poller.stop(10_000);
      await applier.stop(10_000);
    }
  });

  it('reports every attempt on the auth-events topic and in the metrics, without a password', async () => {
    const codec = createCodec();
    const kafka = createKafka(pipeline.infra);
    const topic = topicNames(pipeline.prefix).authEvents;
    let records: Awaited<ReturnType<typeof readTopics>> = [];
    for (let i = 0; i < 50 && !records.some((r) => codec.decode('auth-event', r.value as Buffer).login === 'carol'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      records = await readTopics(kafka, [topic]);
    }
    const events = records.map((r) => ({ key: r.key?.toString(), event: codec.decode('auth-event', r.value as Buffer) }));
    const aliceOk = events.find((e) => e.event.login === 'ALICE' && e.event.result === 'success');
    assert.ok(aliceOk, 'the first sign-in of ALICE is an event');
    assert.equal(aliceOk.key, `${pipeline.profileId}/${aliceId}`);
    assert.equal(aliceOk.event.externalId, aliceId);
    assert.equal(aliceOk.event.clientAddress, '127.0.0.1');
    assert.ok(
      events.some((e) => e.event.login === 'nobody-here' && e.event.result === 'invalid-credentials' && e.key === 'login:nobody-here'),
    );
    assert.ok(events.some((e) => e.event.login === 'carol' && e.event.result === 'success' && e.event.firstSignIn));
    for (const r of records) for (const secret of Object.values(PASSWORDS)) assert.equal(r.value?.includes(secret), false);
    const metrics = await api.serve.publicApp.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /dirstream_auth_attempts_total\{result="success"\} \d+/);
    assert.match(metrics.body, /dirstream_auth_attempts_total\{result="invalid-credentials"\} \d+/);
    assert.match(metrics.body, /dirstream_auth_lookups_total\{source="cache"\} [1-9]\d*/);
    assert.match(metrics.body, /dirstream_auth_lookups_total\{source="database"\} [1-9]\d*/);
    assert.match(metrics.body, /dirstream_auth_cache_live 1/);
  });

  it('lets only the configured applications call sign-in when clients are set', async () => {
    const token = `tok-${randomBytes(12).toString('hex')}`;
    const closed = await startServe(serveConfig(pipeline.config, { clients: [{ name: 'app-a', token }] }));
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }] as Record<string, string>[]) {
        const { status, body } = await closed.authenticate({ login: 'alice', password: PASSWORDS.alice }, { headers });
        assert.deepEqual([status, body], [401, { code: 'AUTH_CLIENT_UNAUTHENTICATED' }], JSON.stringify(headers));
      }
      const ok = await closed.authenticate(
        { login: 'alice', password: PASSWORDS.alice },
        { headers: { authorization: `Bearer ${token}` } },
      );
      assert.equal(ok.status, 200);
      assert.equal(
        LOG_LINES.find((line) => line.includes(token)),
        undefined,
        'the client token is never logged',
      );
    } finally {
      await closed.close();
    }
  });

  it('never wrote a password into any log line', () => {
    assert.ok(LOG_LINES.length > 20, `only ${LOG_LINES.length} log lines captured`);
    for (const [name, secret] of Object.entries(PASSWORDS)) {
      const hit = LOG_LINES.find((line) => line.includes(secret));
      assert.equal(hit, undefined, `${name}'s password in a log line`);
    }
  });
});
