/**
 * A real pipeline (OpenLDAP → poller → Kafka → applier → PostgreSQL) with some history, and
 * `dirstream serve` in-process on it with two admin tokens: what the console's API and page tests
 * look at. History: alice, bob and carol in groups staff and admins (admins grants the role
 * `admin`), dave and erin, an entry without a login (an entry error of every full pass); then bob
 * renamed and carol out of staff; then a pass that halts (dave and erin moved out: two disables,
 * one allowed); then a pass that succeeds; erin out (disabled) and back (enabled); and one
 * garbage record on the users topic that the applier dead-letters.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createServe, type Serve } from '@dirstream/api';
import type { DirstreamConfig } from '@dirstream/config';
import { topicNames } from '@dirstream/events';
import { createLogger } from '@dirstream/logging';
import { createKafka } from '@dirstream/testing';
import { createPipeline, describeResult, type Pipeline } from '../../../test/support/pipeline.ts';

export type ConsoleFixture = {
  readonly pipeline: Pipeline;
  readonly serve: Serve;
  readonly adminUrl: string;
  readonly operatorToken: string;
  readonly viewerToken: string;
  /** Every secret the responses and logs must never hold. */
  readonly secrets: readonly string[];
  /** What `dirstream serve` logged so far (NDJSON). */
  logs(): string;
  readonly users: { readonly alice: string; readonly bob: string; readonly carol: string };
  readonly groups: { readonly staff: string; readonly admins: string };
  /** Fetch on the admin listener with a token (or none). */
  fetch(path: string, options?: { token?: string | null; method?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
};

/** The statuses of the fixture's runs, oldest first. */
export const FIXTURE_RUNS = ['succeeded', 'succeeded', 'halted', 'succeeded', 'succeeded', 'succeeded'] as const;

/** Entries without a login: each full pass reports this many entry errors. */
export const ENTRY_ERRORS = 60;

async function pass(pipeline: Pipeline, args: readonly string[] = []): Promise<void> {
  const result = await pipeline.runPoller(args);
  if (result.code !== 0) throw new Error(`poller pass failed: ${describeResult(result)}`);
  await pipeline.applyUntilCaughtUp();
}

export async function createConsoleFixture(label: string): Promise<ConsoleFixture> {
  const pipeline = await createPipeline({
    label,
    // Only the boot run and sync-now run on schedule during the test.
    // One disable is allowed per run: the fixture's third pass moves two users out and halts.
    profile: { schedule: { intervalSeconds: 3600 }, policies: { groupRoles: { admins: ['admin'] }, maxDisableCount: 1 } },
  });
  try {
    const { ldap } = pipeline;
    const aliceDn = await ldap.addUser('alice', { mail: 'alice@example.test' });
    const bobDn = await ldap.addUser('bob');
    const carolDn = await ldap.addUser('carol');
    const staffDn = await ldap.addGroup('staff', [aliceDn, bobDn, carolDn]);
    await ldap.addUser('dave');
    await ldap.addUser('erin');
    // No uid: an entry error of every full pass (the rest of the run goes on). 60 of them: more
    // than the 50 a run's summary keeps, so the console shows that it has every one.
    for (let i = 1; i <= ENTRY_ERRORS; i++) {
      const cn = i === 1 ? 'nologin' : `nologin-${i}`;
      await ldap.client.add(`cn=${cn},${ldap.peopleDn}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        cn,
        sn: cn,
      });
    }
    await ldap.addGroup('admins', [aliceDn]);
    await pass(pipeline, ['--full']);

    await ldap.client.modifyDN(bobDn, `uid=bob2,${ldap.peopleDn}`);
    await ldap.modify(staffDn, { member: [aliceDn, `uid=bob2,${ldap.peopleDn}`] });
    await pass(pipeline, ['--full']);

    // dave and erin leave the users' base DN: two disables > maxDisableCount, the run halts;
    // they come back before the next pass, which succeeds and changes nothing.
    const attic = `ou=attic,${ldap.baseDn}`;
    await ldap.client.add(attic, { objectClass: ['top', 'organizationalUnit'], ou: 'attic' });
    for (const uid of ['dave', 'erin']) await ldap.client.modifyDN(`uid=${uid},${ldap.peopleDn}`, `uid=${uid},${attic}`);
    const halted = await pipeline.runPoller(['--full']);
    await pipeline.applyUntilCaughtUp();
    for (const uid of ['dave', 'erin']) await ldap.client.modifyDN(`uid=${uid},${attic}`, `uid=${uid},${ldap.peopleDn}`);
    await pass(pipeline, ['--full']);

    // erin alone leaves (one disable is allowed: disabled, removed from the directory), then comes back (enabled).
    await ldap.client.modifyDN(`uid=erin,${ldap.peopleDn}`, `uid=erin,${attic}`);
    await pass(pipeline, ['--full']);
    await ldap.client.modifyDN(`uid=erin,${attic}`, `uid=erin,${ldap.peopleDn}`);
    await pass(pipeline, ['--full']);

    const statuses = (await pipeline.query<{ status: string }>('select status from sync_runs order by started_at'))
      .map((r) => r.status)
      .join();
    if (statuses !== FIXTURE_RUNS.join()) {
      throw new Error(`the fixture's runs are ${statuses}, not ${FIXTURE_RUNS.join()}: ${describeResult(halted)}`);
    }

    // A record no codec can read: the applier dead-letters it with a reason.
    const producer = createKafka(pipeline.infra).producer();
    await producer.connect();
    await producer.send({
      topic: topicNames(pipeline.prefix).users,
      messages: [{ key: `${pipeline.profileId}/garbage`, value: Buffer.from('not an event') }],
    });
    await producer.disconnect();
    await pipeline.applyUntilCaughtUp();

    const ids = await pipeline.query<{ login_name: string; external_id: string }>('select login_name, external_id from users');
    const groupIds = await pipeline.query<{ name: string; external_id: string }>('select name, external_id from groups');
    const userId = (login: string) => ids.find((r) => r.login_name === login)?.external_id ?? '';
    const groupId = (name: string) => groupIds.find((r) => r.name === name)?.external_id ?? '';

    const operatorToken = `op-${randomBytes(18).toString('base64url')}`;
    const viewerToken = `view-${randomBytes(18).toString('base64url')}`;
    const config: DirstreamConfig = {
      ...pipeline.config,
      serve: {
        ...pipeline.config.serve,
        listen: { host: '127.0.0.1', port: 0 },
        admin: {
          host: '127.0.0.1',
          port: 0,
          tokens: [
            { name: 'ops', role: 'operator', token: operatorToken },
            { name: 'watcher', role: 'viewer', token: viewerToken },
          ],
        },
      },
    };
    let logs = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    const serve = await createServe({
      config,
      logger: createLogger({ name: 'serve', level: 'debug', destination: sink }),
      signal: new AbortController().signal,
    });
    const { admin } = await serve.listen();
    const adminUrl = admin.replace('0.0.0.0', '127.0.0.1');
    const bindPassword = pipeline.config.profiles[0]?.connection.bindPassword ?? '';
    return {
      pipeline,
      serve,
      adminUrl,
      operatorToken,
      viewerToken,
      secrets: [bindPassword, operatorToken, viewerToken],
      logs: () => logs,
      users: { alice: userId('alice'), bob: userId('bob2'), carol: userId('carol') },
      groups: { staff: groupId('staff'), admins: groupId('admins') },
      fetch(path, options = {}) {
        const token = options.token === undefined ? operatorToken : options.token;
        return fetch(`${adminUrl}${path}`, {
          method: options.method ?? 'GET',
          headers: {
            ...(token === null ? {} : { authorization: `Bearer ${token}` }),
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        });
      },
      async close() {
        await serve.close();
        await pipeline.cleanup();
      },
    };
  } catch (error) {
    await pipeline.cleanup();
    throw error;
  }
}
