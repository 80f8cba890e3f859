import { sleep } from '@dirstream/errors';

/**
 * Polls `probe` until it gives a truthy value (returned), or fails naming `what` after
 * `timeoutMs`. For state another process reaches in its own time, never for a fixed delay.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(options.intervalMs ?? 250);
  }
}
