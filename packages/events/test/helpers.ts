/** Sample events and version-pinned encoding, shared by the tests and scripts/write-fixtures.ts. */
import avro from 'avsc';
import { fingerprintBytes } from '../src/fingerprint.ts';
import type { SchemaVersion } from '../src/schemas.ts';
import type { EventOf, RecordType } from '../src/types.ts';

const PROFILE = '6f1c2a8e-3b4d-4c5e-9f60-718293a4b5c6';
const USER = '0b7e5f2c-1d3a-4e6b-8c9d-a0b1c2d3e4f5';
const GROUP = 'c4d5e6f7-0819-4a2b-9c3d-4e5f60718293';
const RUN = '9a8b7c6d-5e4f-4321-8fed-cba987654321';
const T = 1_795_000_000_000;

const SOURCE = {
  profileId: PROFILE,
  directoryType: 'active-directory',
  server: 'ldaps://dc1.example.test:636',
  position: '123456',
  runId: RUN,
  mode: 'delta',
} as const;

const TIMES = { changedAt: T - 5000, observedAt: T - 100, emittedAt: T };

export const SAMPLES: { readonly [K in RecordType]: EventOf<K> } = {
  'user-event': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000001',
    op: 'renamed',
    profileId: PROFILE,
    externalId: USER,
    version: T * 1000 + 7,
    state: {
      externalId: USER,
      sid: 'S-1-5-21-1004336348-1177238915-682003330-1105',
      sidHistory: ['S-1-5-21-1-2-3-500'],
      dn: 'CN=Zoë Ünicode,OU=Staff/Paris,DC=example,DC=test',
      loginName: 'zoe',
      userPrincipalName: 'zoe@example.test',
      displayName: 'Zoë Ünicode 🚀',
      givenName: 'Zoë',
      surname: null,
      emails: ['zoe@example.test', 'z@example.test'],
      phone: null,
      title: 'Engineer',
      company: null,
      enabled: true,
      disabledReason: null,
      attributes: { department: ['R&D'], thumbnailPhoto: ['AAEC/w=='], empty: [] },
    },
    changed: ['dn', 'displayName'],
    rename: { previousDn: 'CN=Zoe,OU=Staff,DC=example,DC=test', previousLoginName: null },
    source: SOURCE,
    times: TIMES,
  },
  'group-event': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000002',
    op: 'removed',
    profileId: PROFILE,
    externalId: GROUP,
    version: T * 1000,
    state: {
      externalId: GROUP,
      sid: null,
      dn: 'CN=Admins,OU=Groups,DC=example,DC=test',
      name: 'Admins',
      description: 'People who can',
      present: false,
      attributes: {},
    },
    changed: ['present'],
    rename: null,
    source: { ...SOURCE, directoryType: 'openldap', position: null, mode: 'full' },
    times: { ...TIMES, changedAt: null },
    roleBindings: [],
  },
  'membership-event': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000003',
    op: 'added',
    profileId: PROFILE,
    groupId: GROUP,
    memberId: USER,
    memberType: 'user',
    version: T * 1000 + 1,
    source: SOURCE,
    times: TIMES,
  },
  'sync-run': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000004',
    runId: RUN,
    profileId: PROFILE,
    directoryType: 'ldap',
    mode: 'full',
    status: 'halted',
    reason: 'would disable 40% of users (threshold 10%)',
    startedAt: T - 60_000,
    finishedAt: T,
    counts: {
      created: 1,
      updated: 2,
      renamed: 3,
      moved: 4,
      disabled: 5,
      enabled: 6,
      groupsCreated: 7,
      groupsUpdated: 8,
      groupsRemoved: 9,
      membershipsAdded: 10,
      membershipsRemoved: 11,
      errors: 2,
      entriesRead: 100_000,
    },
    errors: [
      { dn: 'CN=Broken,DC=example,DC=test', code: 'LDAP_ATTRIBUTE_MISSING', message: 'no uid' },
      { dn: null, code: 'LDAP_SIZE_LIMIT', message: 'size limit exceeded' },
    ],
    cursorBefore: '1000',
    cursorAfter: null,
    server: 'ldap://ldap2.example.test:389',
    phasesMs: { users: 1_200, groups: 300, memberships: 800, removals: 40 },
  },
  'user-lifecycle': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000005',
    type: 'user-disabled',
    profileId: PROFILE,
    externalId: USER,
    loginName: 'zoe',
    reason: 'removed-from-directory',
    version: T * 1000 + 8,
    causeEventId: '1a2b3c4d-0000-8000-8000-000000000001',
    occurredAt: T + 10,
  },
  'dead-letter': {
    sourceTopic: 'dirstream.users',
    partition: 3,
    offset: '9007199254740993',
    key: Buffer.from(`${PROFILE}/${USER}`),
    value: Buffer.from([0xc3, 0x01, 0xff, 0x00]),
    code: 'EVENT_DECODE_FAILED',
    reason: 'record does not start with the Avro single-object marker C3 01',
    attempts: 1,
    failedAt: T,
    consumerGroup: 'dirstream-applier',
  },
  'auth-event': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000006',
    occurredAt: T + 20,
    result: 'invalid-credentials',
    profileId: PROFILE,
    externalId: USER,
    login: 'ZOE',
    clientAddress: '10.0.0.7',
    latencyMs: 152,
    requestId: 'req-1',
    firstSignIn: false,
  },
  'run-detail': {
    eventId: '1a2b3c4d-0000-8000-8000-000000000007',
    runId: RUN,
    profileId: PROFILE,
    kind: 'would-disable',
    page: 3,
    last: true,
    entryErrors: [],
    wouldDisable: [
      { externalId: USER, loginName: 'zoe', dn: 'uid=zoe,ou=people,dc=example,dc=test', reason: 'removed-from-directory' },
      { externalId: 'b1e2c3d4-0000-4000-8000-000000000009', loginName: 'max', dn: 'uid=max,ou=gone,dc=example,dc=test', reason: null },
    ],
    emittedAt: T + 30,
  },
};

/** Encodes like an older producer would: with the given version's schema and fingerprint. */
export function encodeWithVersion(version: SchemaVersion, value: unknown): Buffer {
  const type = avro.Type.forSchema(version.schema as avro.Schema, { wrapUnions: false });
  const header = Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytes(version.fingerprint)]);
  return Buffer.concat([header, type.toBuffer(value)]);
}
