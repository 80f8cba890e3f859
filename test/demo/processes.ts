/**
 * The demo's child processes: one-shot commands (infrastructure, `dirstream topics create`,
 * `migrate`) and the long-running poller and applier, whose NDJSON logs go to files. The services
 * run detached (own process group) so that `--keep` can leave them running after the demo exits.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const CLI = join(ROOT, 'services', 'cli', 'src', 'main.ts');

export type CommandOutcome = { readonly code: number | null; readonly seconds: number; readonly output: string };

/** Runs a command to its end with its output appended to `logFile`; kills it after `timeoutMs`. */
export function runLogged(
  command: string,
  args: readonly string[],
  logFile: string,
  timeoutMs: number,
  onLine?: (line: string) => void,
): Promise<CommandOutcome> {
  const started = Date.now();
  const fd = openSync(logFile, 'a');
  writeFileSync(fd, `\n$ ${[command, ...args].join(' ')}\n`);
  return new Promise((done) => {
    const child = spawn(command, [...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: withoutConfigEnv() });
    let output = '';
    let partial = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      writeFileSync(fd, chunk);
      if (onLine === undefined) return;
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      output += `\n[demo] killed after ${timeoutMs / 1000} s\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = (code: number | null) => {
      clearTimeout(timer);
      closeSync(fd);
      done({ code, seconds: (Date.now() - started) / 1000, output });
    };
    child.on('error', (error) => {
      output += `\n[demo] could not start ${command}: ${error.message}\n`;
      finish(-1);
    });
    child.on('close', (code) => finish(code));
  });
}

function withoutConfigEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DIRSTREAM_CONFIG;
  return env;
}

export type Service = {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly pidFile: string;
  /** Null while running; the exit code or signal once it ended. */
  exited(): string | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<string>;
  /** Lets the demo exit while the service keeps running (`--keep`). */
  detach(): void;
};

/** `dirstream <args> --config FILE` in the background, logging to `logFile`. */
export function startService(name: string, args: readonly string[], configPath: string, logFile: string, pidFile: string): Service {
  const fd = openSync(logFile, 'w');
  const child = spawn(NODE, [CLI, ...args, '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    detached: true,
    env: withoutConfigEnv(),
  });
  closeSync(fd);
  const pid = child.pid ?? -1;
  writeFileSync(pidFile, `${pid}\n`);
  let ended: string | null = null;
  const gone = new Promise<string>((done) => {
    child.on('exit', (code, signal) => {
      ended = signal ?? `exit ${code}`;
      rmSync(pidFile, { force: true });
      done(ended);
    });
    child.on('error', (error) => {
      ended = `could not start: ${error.message}`;
      done(ended);
    });
  });
  return {
    name,
    pid,
    logFile,
    pidFile,
    exited: () => ended,
    async stop(graceMs = 15_000) {
      if (ended !== null) return ended;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await gone;
      } finally {
        clearTimeout(timer);
      }
    },
    detach() {
      child.unref();
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a service a previous demo run left running (`--keep`), found by its pid file; only when
 * that process is still the same `dirstream` command on the same configuration file.
 */
export async function stopLeftover(pidFile: string, configPath: string): Promise<number | null> {
  if (!existsSync(pidFile)) return null;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
  if (!cmdline.includes(CLI) || !cmdline.includes(configPath)) return null;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 15_000 && alive(pid); waited += 200) await sleep(200);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return pid;
}

/** The last `lines` lines of a log file (for failure messages). */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log file)';
  const text = readFileSync(file, 'utf8').trimEnd();
  return text.split('\n').slice(-lines).join('\n');
}
