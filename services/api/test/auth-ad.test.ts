/**
 * Sign-in against the Samba AD DC over LDAPS: AD login forms, the AD sub-codes of refused binds
 * (set with userAccountControl, accountExpires, pwdLastSet, lockoutTime, logonHours,
 * userWorkstations and fine-grained password policies), and the rate limit stopping a guessing
 * attack before the directory's lockout. Users live in an OU of their own (createAdOu), synced by
 * the real poller and applier.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type AdOu, createAdOu, loadSamba } from '@dirstream/testing';
import { Attribute, Change, Client } from 'ldapts';
import { createPipeline, type Pipeline } from '../../../test/support/pipeline.ts';
import { LOG_LINES, serveConfig, startServe, type TestServe } from './auth-support.ts';

const samba = loadSamba();
/** What ad-support's addUser sets for every user. */
const PASSWORD = 'Test-Passw0rd!';
const INVALID = { code: 'AUTH_INVALID_CREDENTIALS' };
const FILETIME_EPOCH = 11_644_473_600_000n;
const fileTime = (ms: number) => String((BigInt(ms) + FILETIME_EPOCH) * 10_000n);

let ou: AdOu;
let pipeline: Pipeline;
let api: TestServe;
const dns: Record<string, string> = {};
const psos: string[] = [];

/** A fine-grained password policy (PSO) for one user: its lockout threshold. */
async function lockoutPolicy(user: string, threshold: number): Promise<void> {
  const dn = `CN=dirstream-${ou.login(user)},CN=Password Settings Container,CN=System,${samba.baseDn}`;
  await ou.client.add(dn, {
    objectClass: ['msDS-PasswordSettings'],
    'msDS-PasswordSettingsPrecedence': '1',
    'msDS-PasswordReversibleEncryptionEnabled': 'FALSE',
    'msDS-PasswordHistoryLength': '0',
    'msDS-PasswordComplexityEnabled': 'FALSE',
    'msDS-MinimumPasswordLength': '1',
    'msDS-MinimumPasswordAge': '0',
    'msDS-MaximumPasswordAge': '-864000000000',
    'msDS-LockoutThreshold': String(threshold),
    'msDS-LockoutObservationWindow': '-18000000000',
    'msDS-LockoutDuration': '-18000000000',
    'msDS-PSOAppliesTo': dns[user] as string,
  });
  psos.push(dn);
}

before(async () => {
  ou = await createAdOu(samba, 'auth-ad');
  for (const name of ['ana', 'bea', 'dis', 'exp', 'must', 'lock', 'hours', 'ws', 'mover', 'guard', 'lockme', 'dbdis'])
    dns[name] = await ou.addUser(name);
  await ou.client.add(`OU=moved,${ou.peopleDn}`, { objectClass: ['top', 'organizationalUnit'], ou: 'moved' });
  const group = await ou.addGroup('approvers', [dns.ana as string]);
  await ou.addGroup('all-staff', [group, dns.bea as string]);
  pipeline = await createPipeline({
    label: 'auth-ad',
    directory: {
      type: 'active-directory',
      urls: [samba.url],
      bindDn: samba.adminDn,
      bindPassword: samba.adminPassword,
      tls: { caFile: samba.caFile, serverName: samba.serverName },
      pageSize: 1000,
    },
    profile: {
      users: { baseDn: ou.peopleDn },
      groups: { baseDn: ou.groupsDn },
      schedule: { delta: 'usn', intervalSeconds: 30 },
      policies: { groupRoles: { approvers: ['approver'] } },
    },
  });
  const poll = await pipeline.runPoller(['--full']);
  assert.equal(poll.code, 0, poll.stderr);
  await pipeline.applyUntilCaughtUp();
  // Changed after the sync: the database still has them enabled, the directory refuses.
  await ou.modify(dns.dis as string, { userAccountControl: '514' });
  await ou.modify(dns.exp as string, { accountExpires: fileTime(Date.now() - 86_400_000) });
  await ou.modify(dns.must as string, { pwdLastSet: '0' });
  await ou.modify(dns.lock as string, { lockoutTime: fileTime(Date.now()) });
  await ou.client.modify(
    dns.hours as string,
    new Change({ operation: 'replace', modification: new Attribute({ type: 'logonHours', values: [Buffer.alloc(21)] }) }),
  );
  await ou.modify(dns.ws as string, { userWorkstations: 'NOWHERE' });
  await lockoutPolicy('guard', 5);
  await lockoutPolicy('lockme', 2);
  api = await startServe(serveConfig(pipeline.config));
});

after(async () => {
  await api?.close();
  for (const dn of psos) await ou?.client.del(dn).catch(() => undefined);
  await ou?.cleanup().catch(() => undefined);
  await pipeline?.cleanup();
});

describe('sign-in against Active Directory (Samba)', () => {
  it('accepts sAMAccountName, userPrincipalName and DOMAIN\\login, with SID, groups and roles', async () => {
    const login = ou.login('ana');
    for (const typed of [login, login.toUpperCase(), `${login}@${samba.realm.toLowerCase()}`, `${samba.domain}\\${login}`]) {
      const { status, body } = await api.authenticate({ login: typed, password: PASSWORD });
      assert.equal(status, 200, `${typed}: ${JSON.stringify(body)}`);
      const user = body.user as Record<string, unknown>;
      assert.equal(user.loginName, login);
      assert.match(String(user.sid), /^S-1-5-21-/);
      assert.match(String(user.externalId), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
      assert.deepEqual((user.groups as { name: string }[]).map((g) => g.name).sort(), ['all-staff', 'approvers']);
      assert.deepEqual(user.roles, ['approver']);
    }
    assert.equal((await api.authenticate({ login: `OTHERDOMAIN\\${login}`, password: PASSWORD })).status, 401);
  });

  it('answers a wrong password and an unknown login alike', async () => {
    const wrong = await api.authenticate({ login: ou.login('bea'), password: 'Wrong-Passw0rd!' });
    const unknown = await api.authenticate({ login: ou.login('nobody'), password: PASSWORD });
    assert.deepEqual([wrong.status, wrong.body], [401, INVALID]);
    assert.deepEqual([unknown.status, unknown.body], [401, INVALID]);
    assert.equal((await api.authenticate({ login: ou.login('bea'), password: '  ' })).status, 400);
  });

  it('maps the AD sub-codes of a refused bind to their own 403 codes', async () => {
    const expected: Record<string, string> = {
      dis: 'AUTH_ACCOUNT_DISABLED', // 533
      exp: 'AUTH_ACCOUNT_EXPIRED', // 701
      must: 'AUTH_PASSWORD_MUST_CHANGE', // 773
      lock: 'AUTH_ACCOUNT_LOCKED', // 775
      hours: 'AUTH_LOGON_HOURS_RESTRICTED', // 530
      ws: 'AUTH_WORKSTATION_RESTRICTED', // 531
    };
    for (const [user, code] of Object.entries(expected)) {
      const { status, body } = await api.authenticate({ login: ou.login(user), password: PASSWORD });
      assert.deepEqual([status, body], [403, { code }], user);
    }
    // A disabled account with a wrong password is a wrong password (AD answers 52e): nothing leaks.
    assert.deepEqual((await api.authenticate({ login: ou.login('dis'), password: 'Wrong-Passw0rd!' })).body, INVALID);
  });

  it('refuses a user disabled in the database while the directory still accepts the password', async () => {
    await pipeline.query('update users set enabled = false where login_name = $1', [ou.login('dbdis')]);
    const { status, body } = await api.authenticate({ login: ou.login('dbdis'), password: PASSWORD });
    assert.deepEqual([status, body], [403, { code: 'AUTH_ACCOUNT_DISABLED' }]);
  });

  it('locks out on repeated bad passwords under a lockout policy, and says so', async () => {
    for (let i = 0; i < 2; i++)
      assert.equal((await api.authenticate({ login: ou.login('lockme'), password: `Bad-${i}-Passw0rd` })).status, 401);
    const { status, body } = await api.authenticate({ login: ou.login('lockme'), password: PASSWORD });
    assert.deepEqual([status, body], [403, { code: 'AUTH_ACCOUNT_LOCKED' }]);
  });

  it('stops a guessing attack before the directory lockout would lock the real user out', async () => {
    // Directory: locked after 5 bad passwords; dirstream (default 4 per login): 429 from the 5th attempt.
    const guarded = await startServe(
      serveConfig(pipeline.config, {
        rateLimit: { perLogin: { failures: 4, windowSeconds: 900 }, perClient: { failures: 1_000, windowSeconds: 60 } },
      }),
    );
    try {
      const login = ou.login('guard');
      for (let i = 0; i < 4; i++) assert.equal((await guarded.authenticate({ login, password: `Guess-${i}-Passw0rd` })).status, 401);
      for (let i = 0; i < 3; i++) assert.equal((await guarded.authenticate({ login, password: `Guess-x${i}-Passw0rd` })).status, 429);
      // The real user is not locked out in the directory: another application binding directly still works.
      const client = new Client({ url: samba.url, tlsOptions: { ca: [readFileSync(samba.caFile)], servername: samba.serverName } });
      try {
        await client.bind(dns.guard as string, PASSWORD);
      } finally {
        await client.unbind();
      }
    } finally {
      await guarded.close();
    }
  });

  it('follows a user moved since the last sync (re-resolved by objectGUID)', async () => {
    await ou.client.modifyDN(dns.mover as string, `CN=mover,OU=moved,${ou.peopleDn}`);
    const { status, body } = await api.authenticate({ login: ou.login('mover'), password: PASSWORD });
    assert.equal(status, 200, JSON.stringify(body));
  });

  it('fails over to the second URL, and answers 503 naming the profile when none answers', async () => {
    const failover = await startServe(
      serveConfig(pipeline.config, {}, (p) => ({ urls: ['ldaps://127.0.0.1:1', ...p.connection.urls], connectTimeoutMs: 1_000 })),
    );
    const down = await startServe(serveConfig(pipeline.config, {}, () => ({ urls: ['ldaps://127.0.0.1:1'], connectTimeoutMs: 1_000 })));
    try {
      assert.equal((await failover.authenticate({ login: ou.login('bea'), password: PASSWORD })).status, 200);
      const { status, body } = await down.authenticate({ login: ou.login('bea'), password: PASSWORD });
      assert.deepEqual([status, body], [503, { code: 'AUTH_DIRECTORY_UNAVAILABLE', profiles: ['auth-ad'] }]);
    } finally {
      await failover.close();
      await down.close();
    }
  });

  it('signs in a user created after the last sync, through the active poller (USN delta)', async () => {
    const poller = pipeline.startPoller();
    const applier = pipeline.startApplier();
    try {
      await ou.addUser('newbie');
      const { status, body } = await api.authenticate({ login: ou.login('newbie'), password: PASSWORD });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.synced, true, 'the applier stored the user within the wait');
      const rows = await pipeline.query<{ external_id: string }>('select external_id from users where login_name = $1', [
        ou.login('newbie'),
      ]);
      assert.deepEqual(
        rows.map((r) => r.external_id),
        [(body.user as { externalId: string }).externalId],
      );
    } finally {
      await poller.stop(10_000);
      await applier.stop(10_000);
    }
  });

  it('never wrote a password into any log line', () => {
    assert.ok(LOG_LINES.length > 10);
    assert.equal(
      LOG_LINES.find((line) => line.includes(PASSWORD) || line.includes(samba.adminPassword)),
      undefined,
    );
  });
});
