import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '@dirstream/config';
import type { ProfileStatus } from '@dirstream/poller';
import { formatDuration, formatStatusTable } from '../src/status-table.ts';

describe('formatDuration', () => {
  const cases: readonly [number, string][] = [
    [850, '850 ms'],
    [12_340, '12.3 s'],
    [245_000, '4m 05s'],
    [7_800_000, '2h 10m'],
    [273_600_000, '3d 4h'],
  ];
  for (const [ms, text] of cases) it(`${ms} ms → ${text}`, () => assert.equal(formatDuration(ms), text));
});

describe('formatStatusTable', () => {
  it('one line per configured profile, from the pollers’ records', async () => {
    const config = await loadConfigFromText(
      JSON.stringify({
        kafka: { brokers: ['127.0.0.1:1'] },
        database: { url: 'postgres://x@127.0.0.1/x' },
        profiles: [
          {
            id: '00000000-0000-4000-8000-000000000001',
            name: 'corp',
            directory: 'openldap',
            connection: { urls: ['ldap://h'], bindDn: 'cn=a', bindPassword: { env: 'PW' } },
            users: { baseDn: 'dc=x' },
          },
          {
            id: '00000000-0000-4000-8000-000000000002',
            name: 'lab',
            enabled: false,
            directory: 'openldap',
            connection: { urls: ['ldap://h'], bindDn: 'cn=a', bindPassword: { env: 'PW' } },
            users: { baseDn: 'dc=y' },
          },
        ],
      }),
      { sourceName: 'status.yaml', env: { PW: 'p' } },
    );
    const now = Date.parse('2026-11-26T12:00:00Z');
    const corp: ProfileStatus = {
      profileId: '00000000-0000-4000-8000-000000000001',
      cursorKind: 'accesslog',
      cursor: '20261126115900Z',
      cursorStoredAt: new Date(now - 60_000),
      lastFullAt: new Date(now - 3_600_000),
      lastRun: {
        runId: 'r1',
        mode: 'delta',
        status: 'succeeded',
        reason: null,
        startedAt: now - 62_500,
        finishedAt: now - 60_000,
        counts: {
          created: 2,
          updated: 3,
          renamed: 0,
          moved: 1,
          disabled: 4,
          enabled: 0,
          groupsCreated: 0,
          groupsUpdated: 1,
          groupsRemoved: 0,
          membershipsAdded: 5,
          membershipsRemoved: 0,
          errors: 7,
          entriesRead: 120,
        },
      },
      holder: { host: 'node-a', pid: 42, since: new Date(now - 7_200_000), mode: 'scheduled' },
      nextRunAt: new Date(now + 240_000),
      currentRun: null,
      pendingRun: { runId: 'r2', full: true, requestedAt: new Date(now - 1_000) },
    };
    const lines = formatStatusTable(config.profiles, [corp], now).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    const cells = (line: string) => line.split(/ {2,}/);
    assert.deepEqual(cells(lines[0] ?? ''), [
      'PROFILE',
      'LAST RUN',
      'MODE',
      'READ',
      'CHANGED',
      'DISABLED',
      'ERRORS',
      'DURATION',
      'ENDED',
      'NEXT RUN',
      'LOCK HOLDER',
      'CURSOR',
    ]);
    assert.deepEqual(cells(lines[1] ?? ''), [
      'corp',
      'succeeded, full run requested',
      'delta',
      '120',
      '12',
      '4',
      '7',
      '2.5 s',
      '1m 00s ago',
      'in 4m 00s',
      'node-a:42 (scheduled, 2h 00m)',
      'accesslog',
    ]);
    assert.deepEqual(cells(lines[2] ?? ''), ['lab (disabled)', 'never', '-', '-', '-', '-', '-', '-', '-', 'profile disabled', '-', '-']);
  });
});
