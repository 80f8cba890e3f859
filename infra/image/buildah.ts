/**
 * Where the image lives and how to call buildah on it. The storage is a private vfs store under
 * /var/tmp (no overlay mounts, no daemon, nothing in the repository): every buildah call of the
 * build, the test and the docs goes through `buildah()` so they all see the same images.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const IMAGE_NAME = 'localhost/dirstream';
export const IMAGE_TAG = '0.1.0';
export const IMAGE = `${IMAGE_NAME}:${IMAGE_TAG}`;
/** The user the image runs as (no name lookup needed: /etc/passwd in the image has it too). */
export const IMAGE_UID = 10001;
/** Where the image expects dirstream.yaml (DIRSTREAM_CONFIG); the Kubernetes ConfigMap is mounted there. */
export const IMAGE_CONFIG_PATH = '/etc/dirstream/dirstream.yaml';
/** The label holding the hash of everything the image is built from (build.ts skips a build when it matches). */
export const HASH_LABEL = 'dev.dirstream.content-hash';

export const IMAGE_DIR = process.env.DIRSTREAM_IMAGE_DIR ?? '/var/tmp/dirstream-image';
const STORAGE = ['--storage-driver', 'vfs', '--root', resolve(IMAGE_DIR, 'storage'), '--runroot', resolve(IMAGE_DIR, 'run')];

/** The buildah command line every dirstream script uses, for messages and docs. */
export const BUILDAH_PREFIX = `buildah ${STORAGE.join(' ')}`;

export type BuildahResult = { readonly code: number; readonly stdout: string; readonly stderr: string };

export function buildah(args: readonly string[], options: { timeoutMs?: number; check?: boolean } = {}): BuildahResult {
  const result = spawnSync('buildah', [...STORAGE, ...args], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 << 20,
  });
  const out = { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
  if ((options.check ?? true) && out.code !== 0) {
    throw new Error(`buildah ${args.slice(0, 2).join(' ')} exited ${out.code}: ${out.stderr.slice(-2_000)}`);
  }
  return out;
}

export function hasBuildah(): boolean {
  return spawnSync('buildah', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** The labels of IMAGE, or undefined when it has not been built. */
export function imageLabels(image = IMAGE): Record<string, string> | undefined {
  const result = buildah(['inspect', '--type', 'image', image], { check: false });
  if (result.code !== 0) return undefined;
  const parsed = JSON.parse(result.stdout) as { OCIv1?: { config?: { Labels?: Record<string, string> } } };
  return parsed.OCIv1?.config?.Labels ?? {};
}

export function sha256(...parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

export function fileHash(path: string): string {
  return sha256(readFileSync(path));
}
