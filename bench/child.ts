/** What the benchmark parts share: timed commands, and a measured pass in a child process. */
import { spawn } from 'node:child_process';

/** Runs a command with its output discarded; resolves with its wall time in seconds. */
export function timeCommand(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Number(process.hrtime.bigint() - started) / 1e9)
        : reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

/**
 * Runs `script --child` (the same bench file, in child mode) with `env` added; the child prints
 * its result as the last line of stdout (JSON). A child process gives a clean peak-RSS reading.
 */
export function runBenchChild<T>(script: string, env: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--child'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch {
        reject(new Error(`bench child exited ${code} without a result: ${out.slice(-2000)}`));
      }
    });
  });
}
