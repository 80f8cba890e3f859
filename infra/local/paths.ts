import { resolve } from 'node:path';

/** The repository root (infra/local/ is two levels down). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** Everything the local infrastructure writes: data, logs, pid files, cached jars. Git-ignored. */
export const STATE_DIR = resolve(REPO_ROOT, '.dirstream');
/** Endpoints of the running servers, read by the test harness, the demo and the benchmarks. */
export const INFRA_FILE = resolve(STATE_DIR, 'infra.json');
