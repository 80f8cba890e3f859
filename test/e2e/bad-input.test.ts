/**
 * Bad-input corpus, through the real pipeline: awkward directory entries and poison Kafka
 * records. Each must get a clear error naming the entry (sync-run errors with its DN, or a
 * dead letter naming the record) and must not stop anything else of the run.
 *
 * What slapd 2.5 accepts (checked with ldapadd): invalid UTF-8 in a directoryString attribute
 * (cn, displayName, employeeNumber) is refused with "invalid per syntax"; a NUL byte inside a
 * directoryString is valid UTF-8 and is accepted; octet-string attributes (audio, jpegPhoto)
 * take any bytes. So the "non-UTF-8" entries are a NUL in displayName and raw bytes in `audio`
 * mapped as a string extra attribute.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createCodec, type DeadLetterEvent, topicNames, type UserEvent, userKey } from '@dirstream/events';
import { createKafka, readTopics } from '@dirstream/testing';
import { describeResult, createPipeline, type Pipeline } from '../support/pipeline.ts';

const codec = createCodec();

type SyncRunRow = {
  status: string;
  reason: string | null;
  errors: { dn: string | null; code: string; message: string }[];
  counts: Record<string, number>;
};

async function lastRun(pipeline: Pipeline): Promise<SyncRunRow> {
  const rows = await pipeline.query<SyncRunRow>('select status, reason, errors, counts from sync_runs order by finished_at desc limit 1');
  assert.ok(rows[0], 'no sync run recorded');
  return rows[0];
}

async function deadLetters(pipeline: Pipeline): Promise<DeadLetterEvent[]> {
  const topic = topicNames(pipeline.prefix).deadLetters;
  const records = await readTopics(createKafka(pipeline.infra), [topic]).catch(() => []);
  return records.filter((r) => r.value !== null).map((r) => codec.decode('dead-letter', r.value as Buffer));
}

describe('bad directory entries', () => {
  let pipeline: Pipeline;
  const dn: Record<string, string> = {};
  before(async () => {
    pipeline = await createPipeline({
      label: 'bad-entries',
      profile: { users: { disabledFilter: '(employeeType=inactive)', attributes: { extra: { badge: 'audio', notes: 'description' } } } },
    });
    const { ldap, infra } = pipeline;
    const client = ldap.client;
    for (const ou of ['a', 'b']) await client.add(`ou=${ou},${ldap.peopleDn}`, { objectClass: ['top', 'organizationalUnit'], ou });
    const good: string[] = [];
    for (let i = 1; i <= 5; i++) good.push(await ldap.addUser(`good${i}`));
    dn.good1 = good[0] as string;
    dn.nul = await ldap.addUser('nul', { displayName: 'Nul\u0000Byte' });
    // ldapts sends a Buffer value as raw bytes.
    dn.binary = `uid=binary,${ldap.peopleDn}`;
    await client.add(dn.binary, {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      uid: 'binary',
      cn: 'Binary Badge',
      sn: 'binary',
      audio: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0xc3]) as unknown as string,
    });
    dn.big = await ldap.addUser('big', { description: 'x'.repeat(1024 * 1024) });
    dn.dupA = await ldap.addUser('dup', { cn: 'Dup A' }, `ou=a,${ldap.peopleDn}`);
    dn.dupB = await ldap.addUser('dup', { cn: 'Dup B' }, `ou=b,${ldap.peopleDn}`);
    dn.comma = await ldap.addUser('comma\\,user', { uid: 'comma,user', cn: 'Comma, User', mail: 'comma@example.test' });
    dn.quote = await ldap.addUser('quote\\"user', { uid: 'quote"user', cn: 'Quote "User"', mail: 'quote@example.test' });
    dn.unicode = await ldap.addUser('jürgen-ßø-日本', { cn: 'Jürgen Ø 日本', mail: 'jurgen@example.test' });
    // No uid: inetOrgPerson allows it, the profile requires it (login name).
    dn.nouid = `cn=No Login,${ldap.peopleDn}`;
    await client.add(dn.nouid, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: 'No Login', sn: 'x' });
    // Member values spelled differently from the entries' DNs (hex escapes, case) and a ghost.
    const ghost = `uid=ghost,${ldap.peopleDn}`;
    dn.escaped = await ldap.addGroup('escaped', [`UID=comma\\2Cuser,${ldap.peopleDn}`, dn.quote, dn.unicode, dn.dupA, dn.dupB]);
    dn.dangling = await ldap.addGroup('dangling', [ghost, `cn=nobody,${ldap.groupsDn}`, dn.good1, infra.openldap.adminDn]);
  });
  after(async () => {
    await pipeline?.cleanup();
  });

  test('each bad entry is reported or kept intact, and the rest is applied', async () => {
    const polled = await pipeline.runPoller(['--full']);
    await pipeline.applyUntilCaughtUp();
    const run = await lastRun(pipeline);
    const users = await pipeline.query<{
      external_id: string;
      login_name: string;
      display_name: string;
      dn: string;
      attributes: Record<string, string[]>;
    }>('select external_id, login_name, display_name, dn, attributes from users where profile_id = $1', [pipeline.profileId]);
    const byDn = new Map(users.map((u) => [u.dn.toLowerCase(), u]));
    const letters = await deadLetters(pipeline);
    for (const e of run.errors) console.log(`# sync-run error ${e.code}: ${e.dn} — ${e.message}`);
    for (const l of letters) console.log(`# dead letter ${l.code}: ${l.reason}`);
    const problems: string[] = [];
    const reportedDn = (d: string) => run.errors.some((e) => e.dn !== null && e.dn.toLowerCase() === d.toLowerCase());
    const deadLettered = (login: string) =>
      letters.some((l) => {
        const key = l.key === null ? '' : Buffer.from(l.key).toString();
        const user = users.find((u) => u.login_name === login);
        return user !== undefined ? key.endsWith(user.external_id) : key.startsWith(`${pipeline.profileId}/`) && l.reason.length > 0;
      });

    // The run itself: not failed because of single entries.
    if (polled.code !== 0 || run.status !== 'succeeded') {
      problems.push(
        `the run did not succeed (exit ${polled.code}, status ${run.status}: ${run.reason}) — one bad entry stopped the others\n${describeResult(polled, 8)}`,
      );
    }
    // Good entries, duplicates and escaped DNs are all applied with their exact values.
    for (let i = 1; i <= 5; i++) if (!users.some((u) => u.login_name === `good${i}`)) problems.push(`good${i} missing`);
    const dups = users
      .filter((u) => u.login_name === 'dup')
      .map((u) => u.display_name)
      .sort();
    if (JSON.stringify(dups) !== JSON.stringify(['Dup A', 'Dup B']))
      problems.push(`duplicate logins: expected both entries, got ${JSON.stringify(dups)}`);
    // … and the second one is reported in the sync log, naming the login and its DN.
    const duplicateLogs = await pipeline.query<{ error_code: string; error_message: string }>(
      `select error_code, error_message from sync_log where op = 'duplicate-login'`,
    );
    if (
      duplicateLogs.length !== 1 ||
      duplicateLogs[0]?.error_code !== 'USER_DUPLICATE_LOGIN' ||
      !/login name dup \(uid=dup,ou=[ab],/i.test(duplicateLogs[0].error_message)
    ) {
      problems.push(
        `duplicate logins: expected one USER_DUPLICATE_LOGIN sync-log row naming the entry, got ${JSON.stringify(duplicateLogs)}`,
      );
    }
    for (const [login, display] of [
      ['comma,user', 'Comma, User'],
      ['quote"user', 'Quote "User"'],
      ['jürgen-ßø-日本', 'Jürgen Ø 日本'],
    ] as const) {
      const row = users.find((u) => u.login_name === login);
      if (row === undefined) problems.push(`escaped/Unicode DN user ${login} missing`);
      else if (row.display_name !== display) problems.push(`${login}: display name ${JSON.stringify(row.display_name)}`);
    }
    // Missing required attribute: a per-entry error naming the DN, not a row.
    if (!reportedDn(dn.nouid as string))
      problems.push(`entry without uid not reported with its DN (errors: ${JSON.stringify(run.errors)})`);
    if (users.some((u) => u.dn.toLowerCase() === (dn.nouid as string).toLowerCase())) problems.push('entry without uid was stored');
    // NUL in displayName: stored intact is impossible in PostgreSQL text, so it must be reported.
    const nul = byDn.get((dn.nul as string).toLowerCase());
    if (nul === undefined && !reportedDn(dn.nul as string) && !deadLettered('nul'))
      problems.push('entry with a NUL byte: neither stored nor reported');
    if (nul !== undefined && nul.display_name !== 'Nul\u0000Byte')
      problems.push(`entry with a NUL byte stored altered: ${JSON.stringify(nul.display_name)}`);
    // Raw bytes in a string-mapped attribute: either the exact bytes survive or the entry is reported.
    const binary = byDn.get((dn.binary as string).toLowerCase());
    const badge = binary?.attributes.badge?.[0];
    if (binary === undefined && !reportedDn(dn.binary as string)) problems.push('entry with raw bytes: neither stored nor reported');
    if (binary !== undefined && !reportedDn(dn.binary as string)) {
      const intact =
        badge !== undefined && (Buffer.from(badge, 'base64').equals(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0xc3])) || badge === 'fffe0001c3');
      if (!intact) problems.push(`entry with raw bytes stored lossily without an error: badge=${JSON.stringify(badge)}`);
    }
    // 1 MB value: stored whole, or reported by DN; never a failed run.
    const big = byDn.get((dn.big as string).toLowerCase());
    if (big === undefined && !reportedDn(dn.big as string) && !deadLettered('big'))
      problems.push('1 MB entry: neither stored nor reported');
    if (big !== undefined && big.attributes.notes?.[0]?.length !== 1024 * 1024) problems.push('1 MB entry stored truncated');
    // Memberships: escaped spellings resolve; dangling values are skipped, the rest of the group kept.
    const edges = await pipeline.query<{ name: string; login: string | null }>(
      `select g.name, u.login_name as login from memberships m join groups g on g.profile_id = m.profile_id and g.external_id = m.group_id
       left join users u on u.profile_id = m.profile_id and u.external_id = m.member_id where m.profile_id = $1 and m.present`,
      [pipeline.profileId],
    );
    const members = (group: string) =>
      edges
        .filter((e) => e.name === group)
        .map((e) => e.login ?? '?')
        .sort();
    const escapedExpected = ['comma,user', 'dup', 'dup', 'jürgen-ßø-日本', 'quote"user'].sort();
    if (JSON.stringify(members('escaped')) !== JSON.stringify(escapedExpected)) {
      problems.push(`group with escaped member DNs: ${JSON.stringify(members('escaped'))}, expected ${JSON.stringify(escapedExpected)}`);
    }
    if (JSON.stringify(members('dangling')) !== JSON.stringify(['good1']))
      problems.push(`group with dangling members: ${JSON.stringify(members('dangling'))}`);

    assert.deepEqual(problems, [], `bad directory entries:\n- ${problems.join('\n- ')}`);
  });
});

describe('poison Kafka records', () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await createPipeline({ label: 'bad-records', partitions: 3 });
    for (let i = 1; i <= 4; i++) await pipeline.ldap.addUser(`early${i}`);
  });
  after(async () => {
    await pipeline?.cleanup();
  });

  test('each poison record is dead-lettered with its reason, every partition goes on', async () => {
    const first = await pipeline.runPoller();
    assert.equal(first.code, 0, describeResult(first));
    const topics = topicNames(pipeline.prefix);
    const kafka = createKafka(pipeline.infra);
    const [sample] = (await readTopics(kafka, [topics.users])).filter((r) => r.value !== null);
    assert.ok(sample?.value, 'the poller produced no user event');
    const valid = Buffer.from(sample.value);
    const event = codec.decode('user-event', valid) as UserEvent;

    const wrongMarker = Buffer.from(valid);
    wrongMarker[1] = 0x02;
    const unknownFingerprint = Buffer.from(valid);
    for (let i = 2; i < 10; i++) unknownFingerprint[i] = 0x5a;
    const otherProfile = randomUUID();
    const unknownProfile = codec.encode('user-event', {
      ...event,
      profileId: otherProfile,
      source: { ...event.source, profileId: otherProfile },
    });
    const poison = [
      {
        name: 'garbage',
        topic: topics.users,
        key: 'garbage',
        value: Buffer.from('\u0000\u00ffnot avro at all, just bytes'),
        codes: ['EVENT_DECODE_FAILED'],
      },
      { name: 'wrong marker', topic: topics.users, key: 'marker', value: wrongMarker, codes: ['EVENT_DECODE_FAILED'] },
      { name: 'unknown fingerprint', topic: topics.users, key: 'fingerprint', value: unknownFingerprint, codes: ['EVENT_UNKNOWN_SCHEMA'] },
      { name: 'truncated body', topic: topics.users, key: 'truncated', value: valid.subarray(0, 14), codes: ['EVENT_DECODE_FAILED'] },
      {
        name: 'unknown profile',
        topic: topics.users,
        key: userKey(otherProfile, event.externalId),
        value: unknownProfile,
        codes: ['APPLY_UNKNOWN_PROFILE'],
      },
      {
        name: 'garbage group',
        topic: topics.groups,
        key: 'g',
        value: Buffer.from([0xc3, 0x01, 1, 2, 3]),
        codes: ['EVENT_DECODE_FAILED', 'EVENT_UNKNOWN_SCHEMA'],
      },
      { name: 'garbage membership', topic: topics.memberships, key: 'm', value: Buffer.from('{}'), codes: ['EVENT_DECODE_FAILED'] },
    ] as const;
    const producer = kafka.producer();
    await producer.connect();
    const sent: { name: string; topic: string; partition: number; offset: string; codes: readonly string[] }[] = [];
    try {
      // Every poison record in every partition, ahead of the records the next run produces.
      for (const record of poison) {
        for (let partition = 0; partition < 3; partition++) {
          const [meta] = await producer.send({
            topic: record.topic,
            acks: -1,
            messages: [{ key: record.key, value: record.value, partition }],
          });
          sent.push({ name: record.name, topic: record.topic, partition, offset: String(meta?.baseOffset), codes: record.codes });
        }
      }
    } finally {
      await producer.disconnect();
    }
    for (let i = 1; i <= 12; i++) await pipeline.ldap.addUser(`late${i}`);
    const second = await pipeline.runPoller();
    assert.equal(second.code, 0, describeResult(second));
    await pipeline.applyUntilCaughtUp();

    const users = await pipeline.query<{ login_name: string }>('select login_name from users where profile_id = $1', [pipeline.profileId]);
    const logins = new Set(users.map((u) => u.login_name));
    const missing = [
      ...Array.from({ length: 4 }, (_, i) => `early${i + 1}`),
      ...Array.from({ length: 12 }, (_, i) => `late${i + 1}`),
    ].filter((l) => !logins.has(l));
    assert.deepEqual(missing, [], 'good records after the poison ones were not applied');
    assert.equal(users.length, 16, 'nothing from the poison records was applied');

    const letters = await deadLetters(pipeline);
    for (const l of letters) console.log(`# dead letter ${l.sourceTopic}/${l.partition}@${l.offset} ${l.code}: ${l.reason}`);
    const problems: string[] = [];
    for (const s of sent) {
      const letter = letters.find((l) => l.sourceTopic === s.topic && l.partition === s.partition && l.offset === s.offset);
      if (letter === undefined) problems.push(`${s.name} (${s.topic}/${s.partition}@${s.offset}): no dead letter`);
      else if (!s.codes.includes(letter.code))
        problems.push(`${s.name}: code ${letter.code}, expected ${s.codes.join(' or ')} (${letter.reason})`);
      else if (letter.reason.trim() === '') problems.push(`${s.name}: empty reason`);
    }
    assert.deepEqual(problems, [], problems.join('\n'));
    assert.equal(letters.length, sent.length, 'only the poison records are dead-lettered, each once');
  });
});
