/**
 * `npm run image`: the dirstream OCI image, built with buildah from scratch — nothing is pulled
 * from an image registry.
 *
 *   rootfs   mmdebstrap --variant=extract of the four Debian packages Node needs (glibc, libgcc,
 *            libstdc++), from the host's apt sources (security updates included)
 *   node     the Node 24 binary of the `node` devDependency, debug symbols stripped
 *   /app     the project's tracked sources (no tests) and `npm ci --omit=dev` production deps
 *   user     10001 (dirstream), entrypoint /usr/local/bin/dirstream, writes only /tmp
 *   labels   OCI labels, the Debian and npm package lists (also in /usr/share/dirstream/sbom.txt)
 *
 * The build is skipped when the image already carries the hash of its inputs (sources, lockfile,
 * Node binary, this script): `--force` rebuilds. Prints the image, its size and the build time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensureAptPackages } from '../local/apt.ts';
import { run } from '../local/process.ts';
import { buildah, HASH_LABEL, IMAGE, IMAGE_CONFIG_PATH, IMAGE_DIR, IMAGE_UID, imageLabels, sha256 } from './buildah.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const NODE_BINARY = resolve(ROOT, 'node_modules', 'node', 'bin', 'node');
const DEBIAN_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6', 'gcc-12-base'];
const SOURCES = '/etc/apt/sources.list.d/debian.sources';
/** What goes into /app: the runtime sources, never tests, benches or infra. */
const APP_PATHS = ['package.json', 'package-lock.json', 'packages', 'services', 'schemas', 'config'];

const log = (line: string) => console.error(`[image] ${line}`);

function appFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--', ...APP_PATHS], { cwd: ROOT, encoding: 'utf8' }).split('\0');
  return listed
    .filter((f) => f !== '' && !/(^|\/)test\//.test(f) && !f.endsWith('.test.ts') && !/(^|\/)scripts\//.test(f))
    .filter((f) => existsSync(join(ROOT, f)))
    .sort();
}

function contentHash(files: readonly string[]): string {
  const parts: (string | Buffer)[] = [];
  for (const f of files) parts.push(f, '\0', sha256(readFileSync(join(ROOT, f))), '\n');
  for (const f of [NODE_BINARY, join(import.meta.dirname, 'build.ts'), join(import.meta.dirname, 'buildah.ts')])
    parts.push(sha256(readFileSync(f)));
  parts.push(DEBIAN_PACKAGES.join(','));
  return sha256(...parts).slice(0, 16);
}

/** mmdebstrap keeps the .deb files (skip=cleanup/apt): their names are the package list. */
async function buildRootfs(dir: string): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  await run('mmdebstrap', [
    '--quiet',
    '--variant=extract',
    `--include=${DEBIAN_PACKAGES.join(',')}`,
    '--skip=cleanup/apt/cache',
    '--format=directory',
    'bookworm',
    dir,
    SOURCES,
  ]);
  const archives = join(dir, 'var', 'cache', 'apt', 'archives');
  const debs = readdirSync(archives)
    .filter((f) => f.endsWith('.deb'))
    .map((f) => {
      const [name, version, arch] = decodeURIComponent(f.replace(/\.deb$/, '')).split('_');
      return `${name}=${version} (${arch})`;
    })
    .sort();
  for (const leftover of [
    'var/cache/apt',
    'var/lib/apt',
    'var/log',
    'usr/share/doc',
    'usr/share/man',
    'usr/share/info',
    'usr/share/lintian',
  ]) {
    rmSync(join(dir, leftover), { recursive: true, force: true });
  }
  return debs;
}

/** The tracked sources and production dependencies, as they go into /app. */
async function stageApp(dir: string, files: readonly string[]): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f));
  }
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean; link?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.link && existsSync(join(dir, path)))
    .map(([path, p]) => `${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${p.version}`)
    .sort();
}

function sizeOf(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

async function main(argv: readonly string[]): Promise<number> {
  const force = argv.includes('--force');
  const started = Date.now();
  await ensureAptPackages(['buildah', 'mmdebstrap', 'binutils'], log);
  const files = appFiles();
  const hash = contentHash(files);
  if (!force && imageLabels()?.[HASH_LABEL] === hash) {
    log(`${IMAGE} is up to date (inputs ${hash}); --force rebuilds`);
    return 0;
  }
  // One work folder per build: two test runs may build at once (the last commit wins the tag).
  const work = join(IMAGE_DIR, `work-${process.pid}`);
  const rootfs = join(work, 'rootfs');
  mkdirSync(work, { recursive: true });

  log(`rootfs: mmdebstrap --variant=extract ${DEBIAN_PACKAGES.join(' ')}`);
  const debs = await buildRootfs(rootfs);
  log(`app: ${files.length} files, npm ci --omit=dev`);
  const npmPackages = await stageApp(join(rootfs, 'app'), files);

  const bin = join(rootfs, 'usr', 'local', 'bin');
  mkdirSync(bin, { recursive: true });
  cpSync(NODE_BINARY, join(bin, 'node'));
  await run('strip', ['--strip-debug', join(bin, 'node')]);
  const nodeVersion = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  // Kernel shebang, no shell in the image; a dynamic import works whatever module type Node guesses.
  writeFileSync(join(bin, 'dirstream'), "#!/usr/local/bin/node\nimport('/app/services/cli/src/main.ts');\n", { mode: 0o755 });
  writeFileSync(
    join(rootfs, 'etc', 'passwd'),
    `root:x:0:0:root:/root:/usr/sbin/nologin\ndirstream:x:${IMAGE_UID}:${IMAGE_UID}:dirstream:/tmp:/usr/sbin/nologin\n`,
  );
  writeFileSync(join(rootfs, 'etc', 'group'), `root:x:0:\ndirstream:x:${IMAGE_UID}:\n`);
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  mkdirSync(join(rootfs, dirname(IMAGE_CONFIG_PATH)), { recursive: true });
  const sbom = join(rootfs, 'usr', 'share', 'dirstream');
  mkdirSync(sbom, { recursive: true });
  writeFileSync(
    join(sbom, 'sbom.txt'),
    `# dirstream image ${hash}\n# node\nnode=${nodeVersion}\n# debian\n${debs.join('\n')}\n# npm (production)\n${npmPackages.join('\n')}\n`,
  );
  const bytes = sizeOf(rootfs);

  log('buildah: from scratch, copy, config, commit');
  const container = buildah(['from', '--name', `dirstream-build-${process.pid}`, 'scratch']).stdout.trim();
  try {
    const mount = buildah(['mount', container]).stdout.trim();
    await run('cp', ['-a', `${rootfs}/.`, mount]);
    buildah(['umount', container]);
    const labels: Record<string, string> = {
      'org.opencontainers.image.title': 'dirstream',
      'org.opencontainers.image.description': 'LDAP / Active Directory to Kafka to PostgreSQL, as a stream',
      'org.opencontainers.image.version': IMAGE.split(':')[1] as string,
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.created': new Date().toISOString(),
      'org.opencontainers.image.revision': execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(),
      'dev.dirstream.node': nodeVersion,
      'dev.dirstream.debian-packages': debs.join(', '),
      'dev.dirstream.npm-packages': npmPackages.join(', '),
      'dev.dirstream.sbom': '/usr/share/dirstream/sbom.txt',
      [HASH_LABEL]: hash,
    };
    buildah([
      'config',
      '--entrypoint',
      '["/usr/local/bin/dirstream"]',
      '--cmd',
      '["--help"]',
      '--user',
      `${IMAGE_UID}:${IMAGE_UID}`,
      '--workingdir',
      '/app',
      '--env',
      'NODE_ENV=production',
      '--env',
      'HOME=/tmp',
      '--env',
      `DIRSTREAM_CONFIG=${IMAGE_CONFIG_PATH}`,
      '--port',
      '8080',
      '--port',
      '8081',
      '--port',
      '9464',
      '--port',
      '9465',
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      container,
    ]);
    buildah(['commit', '--quiet', '--format', 'oci', '--rm', container, IMAGE]);
    // The previous build lost its tag: vfs keeps a full copy of each, so drop the untagged ones.
    buildah(['rmi', '--prune'], { check: false });
  } catch (error) {
    buildah(['rm', container], { check: false });
    throw error;
  }
  rmSync(work, { recursive: true, force: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(
    `${IMAGE} built in ${seconds} s: ${(bytes / 1e6).toFixed(0)} MB uncompressed (${debs.length} Debian, ${npmPackages.length} npm packages, node ${nodeVersion}), inputs ${hash}`,
  );
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
