/**
 * The OCI image (infra/image/build.ts), run without a container engine: `buildah run --isolation
 * chroot`. The test calls the build, which is skipped when the image already carries the hash of
 * its inputs (a rebuild after a source change takes ~15–30 s here), then runs `dirstream --help`
 * and `dirstream config check` on the Kubernetes ConfigMap's dirstream.yaml inside it, checks the
 * user, that only /tmp is writable, the package lists in the labels and the size (< 250 MB).
 * Skipped, with the reason, where buildah is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { buildah, hasBuildah, IMAGE, IMAGE_CONFIG_PATH, IMAGE_UID, imageLabels } from '../../infra/image/buildah.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const skip = hasBuildah() ? false : 'buildah is not installed (apt-get install buildah, or run `npm run image`, which installs it)';
let container = '';
let mounts: string[] = [];
let scratch = '';

before(() => {
  if (skip) return;
  const build = spawnSync(process.execPath, [join(ROOT, 'infra', 'image', 'build.ts')], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(build.status, 0, `npm run image failed:\n${build.stderr.slice(-3_000)}`);
  console.log(`# ${build.stdout.trim() || build.stderr.trim().split('\n').pop()}`);
  // The Kubernetes ConfigMap's dirstream.yaml and the Secret's files, where the pods mount them.
  scratch = mkdtempSync(join(tmpdir(), 'dirstream-image-test-'));
  const docs = (file: string) => parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'kubernetes', file), 'utf8')).map((d) => d.toJS());
  writeFileSync(join(scratch, 'dirstream.yaml'), docs('configmap.yaml')[0].data['dirstream.yaml']);
  const secrets = join(scratch, 'secrets');
  spawnSync('mkdir', ['-p', secrets]);
  for (const [key, value] of Object.entries(docs('secret.yaml')[0].stringData as Record<string, string>))
    writeFileSync(join(secrets, key), value);
  spawnSync('chmod', ['-R', 'a+rX', scratch]);
  mounts = ['-v', `${join(scratch, 'dirstream.yaml')}:${IMAGE_CONFIG_PATH}:ro`, '-v', `${secrets}:/etc/dirstream/secrets:ro`];
  container = buildah(['from', '--name', `dirstream-image-test-${process.pid}`, IMAGE]).stdout.trim();
});

after(() => {
  if (container) buildah(['rm', container], { check: false });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function runIn(args: readonly string[]) {
  return buildah(['run', '--isolation', 'chroot', ...mounts, container, '--', ...args], { check: false, timeoutMs: 120_000 });
}

test('dirstream --help runs in the image (entrypoint, Node 24, sources)', { skip }, () => {
  const result = runIn(['/usr/local/bin/dirstream', '--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^dirstream: keep an application's users and groups in step/);
  assert.match(result.stdout, /config check/);
});

test('dirstream config check accepts the Kubernetes ConfigMap with its secret files, masked', { skip }, () => {
  const result = runIn(['/usr/local/bin/dirstream', 'config', 'check']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`# ${IMAGE_CONFIG_PATH}: valid`));
  assert.doesNotMatch(result.stdout, /change-me/, 'secrets are masked');
});

test('runs as the non-root user and can write only /tmp', { skip }, () => {
  const script = `
    const fs = require('node:fs');
    const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); fs.rmSync(p); return 'ok'; } catch (e) { return e.code; } };
    console.log(JSON.stringify({ uid: process.getuid(), app: tryWrite('/app/probe'), etc: tryWrite('/etc/probe'), tmp: tryWrite('/tmp/probe') }));`;
  const result = runIn(['/usr/local/bin/node', '-e', script]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { uid: IMAGE_UID, app: 'EACCES', etc: 'EACCES', tmp: 'ok' });
});

test('labels carry the package lists; the image is under 250 MB', { skip }, () => {
  const labels = imageLabels() ?? {};
  assert.match(labels['dev.dirstream.debian-packages'] ?? '', /libc6=2\.36/);
  assert.match(labels['dev.dirstream.npm-packages'] ?? '', /kafkajs@2\.2\.4/);
  assert.doesNotMatch(labels['dev.dirstream.npm-packages'] ?? '', /typescript@|@biomejs|testcontainers@/, 'no dev dependencies');
  assert.match(labels['dev.dirstream.node'] ?? '', /^v24\./);
  const [image] = JSON.parse(buildah(['images', '--json', IMAGE]).stdout) as { size: string }[];
  const [, value, unit] = /^([\d.]+)\s*(kB|MB|GB)$/.exec(image?.size ?? '') ?? [];
  const mb = Number(value) * (unit === 'GB' ? 1000 : unit === 'kB' ? 0.001 : 1);
  console.log(`# image ${IMAGE}: ${image?.size}`);
  assert.ok(mb > 50 && mb < 250, `image size ${image?.size}`);
});
