/**
 * `npm run demo` end to end, on a small directory of its own (unique subtree, database and topics,
 * removed at the end with --cleanup): the script must exit 0 and show every step.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { uniquePrefix } from '@dirstream/testing';

const ROOT = join(import.meta.dirname, '..', '..');
const TIMEOUT_MS = 6 * 60_000;

function runDemo(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'test', 'demo', 'demo.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGINT'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test(
  'npm run demo: full sync, then a disable, a rename+move, a delete and a group change flow through',
  { timeout: TIMEOUT_MS + 60_000 },
  async () => {
    const name = uniquePrefix('demo');
    const { code, output } = await runDemo(['--users', '300', '--groups', '20', '--interval', '1', '--name', name, '--cleanup']);
    assert.equal(code, 0, `the demo exited ${code}:\n${output}`);
    const expectations: readonly [string, RegExp][] = [
      ['infrastructure', /ready \([\d.]+ s\): Kafka .* · OpenLDAP .* · PostgreSQL /],
      ['seeded directory', /300 users \(\d+ disabled by \(employeeType=inactive\)\), 20 groups/],
      ['full sync in the database', /PostgreSQL: 300 users \(\d+ enabled\), 20 groups, \d+ memberships/],
      ['disable: event', /\.users op=disabled reason=directory-disabled/],
      ['disable: row', /users: login_name=u\d+ enabled=false disabled_reason=directory-disabled/],
      ['disable: downstream', /\.user-lifecycle user-disabled login=u\d+ reason=directory-disabled/],
      ['rename+move: event', /\.users op=(moved|renamed) login u\d+ → u\d+\.renamed/],
      ['rename+move: row', /users: same row \(external_id [^)]+\) login_name=u\d+\.renamed dn=uid=u\d+\.renamed,ou=/],
      ['delete: event', /\.users op=disabled reason=removed-from-directory/],
      ['delete: memberships', /\.memberships \d+ × op=removed/],
      ['delete: downstream', /\.user-lifecycle user-disabled login=u\d+ reason=removed-from-directory/],
      ['group change', /memberships: \(group-\d+, u\d+\) present=true, \(group-\d+, u\d+\) present=false/],
      ['only two announcements', /2 distinct user-lifecycle events in total/],
      ['summary', /\[8\/8\] summary/],
      ['services stopped', /Stopped the poller and the applier this demo started/],
      ['cleanup', new RegExp(`--cleanup: removed ou=${name},`)],
      ['verdict', /demo: every step succeeded/],
    ];
    for (const [what, pattern] of expectations) assert.match(output, pattern, `${what}: not in the demo's output:\n${output}`);
  },
);
