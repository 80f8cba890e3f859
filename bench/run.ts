/**
 * `npm run bench`: every benchmark part, one markdown table each, printed and written to
 * bench/results.md (linked from the README).
 *
 *   npm run bench                                  all parts, 10k and 100k users
 *   npm run bench -- --only pipeline --sizes 10000 one part, one size
 *
 * Parts: poller (bench/poller.ts), applier (bench/applier.ts), ad (bench/ad.ts, when Samba is
 * installed), pipeline (bench/pipeline.ts), auth (bench/auth.ts: sign-in vs raw binds, slapd and the
 * running Samba DC). Flags: --only a,b (default all), --sizes N,M (poller
 * and pipeline; default 10000,100000), --events N (applier; default 500000), --ad-users N (default
 * 10000), --output FILE (default bench/results.md; parts not run keep their previous section).
 *
 * scale (bench/scale.ts, --scale-events N, default 200000): 1, 2 and 4 appliers in one group
 * on the three-node KRaft cluster (started for the part, stopped after, unless it was running).
 *
 * Starts (or reuses) the local PostgreSQL, Kafka and OpenLDAP first. Benchmarks measure; they
 * assert nothing about speed. A part that fails is reported and the others still run (exit 1).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const PARTS = ['poller', 'applier', 'scale', 'ad', 'pipeline', 'auth'] as const;
type Part = (typeof PARTS)[number];

const TITLES: Record<Part, string> = {
  poller: 'Poller: full and delta passes (bench/poller.ts)',
  applier: 'Applier: events applied per second (bench/applier.ts)',
  scale: 'Applier scale-out: 1, 2, 4 appliers on a three-node cluster (bench/scale.ts)',
  ad: 'Active Directory (Samba AD DC): full and delta passes (bench/ad.ts)',
  pipeline: 'Whole pipeline: LDAP → Kafka → PostgreSQL (bench/pipeline.ts)',
  auth: 'Sign-in: POST /v1/authenticate vs raw binds (bench/auth.ts)',
};

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    sizes: { type: 'string', default: '10000,100000' },
    events: { type: 'string', default: '500000' },
    'scale-events': { type: 'string', default: '200000' },
    'ad-users': { type: 'string', default: '10000' },
    output: { type: 'string', default: join(ROOT, 'bench', 'results.md') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench -- [--only poller,applier,ad,pipeline,auth] [--sizes 10000,100000] [--events 500000] [--ad-users 10000] [--output FILE]',
  );
  process.exit(0);
}

const numbers = (text: string) =>
  text
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
const selected = (values.only === undefined ? [...PARTS] : values.only.split(',').map((s) => s.trim())) as Part[];
const unknown = selected.filter((p) => !PARTS.includes(p));
const sizes = numbers(values.sizes);
const events = Number(values.events);
const adUsers = Number(values['ad-users']);
if (unknown.length > 0 || sizes.length === 0 || !(events > 0) || !(adUsers > 0)) {
  console.error(
    `usage: npm run bench -- [--only ${PARTS.join(',')}] [--sizes 10000,100000] [--events 500000] [--ad-users 10000] [--output FILE]` +
      (unknown.length > 0 ? `\nunknown part: ${unknown.join(', ')}` : ''),
  );
  process.exit(2);
}

type Section = { readonly part: Part; readonly body: string };

async function runPart(part: Part): Promise<string> {
  switch (part) {
    case 'poller': {
      const m = await import('./poller.ts');
      return m.formatPollerTable(await m.benchPoller({ sizes }));
    }
    case 'applier': {
      const m = await import('./applier.ts');
      return m.formatApplierTable(await m.benchApplier({ events }));
    }
    case 'scale': {
      const m = await import('./scale.ts');
      return m.formatScaleTable(await m.benchApplierScale({ events: Number(values['scale-events']) }));
    }
    case 'ad': {
      const m = await import('./ad.ts');
      return m.formatAdTable(await m.benchAd({ users: adUsers }));
    }
    case 'pipeline': {
      const m = await import('./pipeline.ts');
      return m.formatPipelineTable(await m.benchPipeline({ sizes }));
    }
    case 'auth': {
      const m = await import('./auth.ts');
      return m.formatAuthTable(await m.benchAuth({ seconds: 3 }));
    }
  }
}

/** Why a part cannot run on this machine, or null. */
function unavailable(part: Part): string | null {
  if (!existsSync(join(ROOT, 'bench', `${part}.ts`))) return `bench/${part}.ts does not exist yet`;
  if (part === 'ad' && !existsSync('/usr/sbin/samba'))
    return 'Samba is not installed (`npm run infra:up` installs it with the AD component)';
  return null;
}

function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

/** Sections of an earlier results file, kept for the parts not run now. */
function previousSections(file: string): Map<Part, string> {
  const sections = new Map<Part, string>();
  if (!existsSync(file)) return sections;
  const text = readFileSync(file, 'utf8');
  for (const part of PARTS) {
    const match = new RegExp(`<!-- part:${part} -->\\n([\\s\\S]*?)<!-- /part:${part} -->`).exec(text);
    if (match?.[1] !== undefined) sections.set(part, match[1].replace(/^## .*\n\n?/, ''));
  }
  return sections;
}

const infra = spawnSync(process.execPath, [join(ROOT, 'infra', 'local', 'cli.ts'), 'up', 'postgres', 'kafka', 'openldap'], {
  cwd: ROOT,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (infra.status !== 0) {
  console.error('bench: the local infrastructure did not start (see above)');
  process.exit(1);
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const fresh: Section[] = [];
let failed = 0;
for (const part of PARTS.filter((p) => selected.includes(p))) {
  const why = unavailable(part);
  const stamp = now();
  console.log(`\n## ${TITLES[part]}\n`);
  if (why !== null) {
    console.log(`skipped: ${why}`);
    fresh.push({ part, body: `_Not run on ${stamp}: ${why}._\n` });
    continue;
  }
  const started = performance.now();
  try {
    const table = await runPart(part);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    console.log(table);
    fresh.push({ part, body: `_Measured ${stamp} on ${machine()}; the part took ${seconds} s._\n\n${table}\n` });
  } catch (error) {
    failed++;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.log(`FAILED: ${message}`);
    fresh.push({ part, body: `_Failed on ${stamp}:_\n\n\`\`\`text\n${message.slice(0, 3000)}\n\`\`\`\n` });
  }
}

const output = resolve(values.output);
const kept = previousSections(output);
for (const s of fresh) kept.set(s.part, s.body);
const document = [
  '# dirstream benchmarks',
  '',
  'Written by `npm run bench` (bench/run.ts); `npm run bench -- --only pipeline --sizes 10000` reruns one part',
  '(the other sections stay as they were). Benchmarks measure, they do not assert: the figures depend on',
  'the machine and on what else it was doing. Everything runs on loopback on this one machine.',
  '',
  ...PARTS.filter((p) => kept.has(p)).flatMap((p) => [
    `<!-- part:${p} -->`,
    `## ${TITLES[p]}`,
    '',
    (kept.get(p) ?? '').trimEnd(),
    '',
    `<!-- /part:${p} -->`,
    '',
  ]),
].join('\n');
writeFileSync(output, document);
console.log(`\nwritten to ${relative(process.cwd(), output)}${failed > 0 ? `; ${failed} part(s) failed` : ''}`);
process.exit(failed > 0 ? 1 : 0);
