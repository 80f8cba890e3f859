/**
 * The test command (`npm test`): starts (or reuses) the infrastructure, type-checks, lints, checks the formatting, then
 * runs every test file with node:test. Flags: --faults runs the long fault suite instead;
 * --no-checks skips those checks; any other argument is a test file to run.
 * DIRSTREAM_INFRA=containers uses testcontainers (hosts with Docker) instead of local servers.
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const args = process.argv.slice(2);
const faults = args.includes('--faults');
const checks = !args.includes('--no-checks');
const explicit = args.filter((a) => !a.startsWith('--'));

function step(title: string, command: string, commandArgs: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const started = Date.now();
  console.log(`\n== ${title}`);
  const result = spawnSync(command, [...commandArgs], { cwd: ROOT, stdio: 'inherit', env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`== ${title}: FAILED (exit ${result.status ?? result.signal}) after ${seconds} s`);
    process.exit(result.status ?? 1);
  }
  console.log(`== ${title}: ok (${seconds} s)`);
}

const provider = process.env.DIRSTREAM_INFRA ?? 'local';
let stopContainers: (() => Promise<void>) | undefined;
if (provider === 'containers') {
  // The containers live as long as this process (testcontainers reaps them when it exits).
  const { startContainers } = await import('../infra/containers/start.ts');
  stopContainers = await startContainers();
} else if (provider === 'local') step('infrastructure (local)', NODE, ['infra/local/cli.ts', 'up']);
else {
  console.error(`DIRSTREAM_INFRA must be "local" or "containers", not "${provider}"`);
  process.exit(2);
}

if (checks && explicit.length === 0) {
  step('type-check', NODE, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
  step('lint', resolve(ROOT, 'node_modules/.bin/biome'), ['lint', '.']);
  step('format check (npm run format fixes it)', resolve(ROOT, 'node_modules/.bin/biome'), ['format', '.']);
}

const patterns = faults
  ? ['test/faults/**/*.long.test.ts']
  : ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'];
const files =
  explicit.length > 0
    ? explicit
    : patterns
        .flatMap((p) => globSync(p, { cwd: ROOT, exclude: (name) => name === 'node_modules' }))
        .filter((f) => faults || !f.endsWith('.long.test.ts'))
        .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
try {
  step(`tests (${files.length} files)`, NODE, [
    '--test',
    `--test-concurrency=${Math.max(2, availableParallelism())}`,
    '--test-timeout=900000',
    '--test-reporter=spec',
    ...files,
  ]);
} finally {
  await stopContainers?.();
}
