import { existsSync } from 'node:fs';
import { ensureAptPackages } from './apt.ts';
import type { Component } from './component.ts';
import { run } from './process.ts';

/** Debian's Chromium: the console's browser test drives it headless (nothing downloads a browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** Not a server: `up` installs the package when missing and reports where the binary is. */
export function createChromiumComponent(): Component {
  const version = async () => {
    const { stdout } = await run(CHROMIUM, ['--version']);
    return stdout.trim();
  };
  return {
    name: 'chromium',
    async up(log) {
      await ensureAptPackages(['chromium'], log);
      return { executable: CHROMIUM, version: await version() };
    },
    async down() {
      return false;
    },
    async status() {
      if (!existsSync(CHROMIUM)) return { running: false, detail: `${CHROMIUM} missing (apt-get install chromium)` };
      return { running: true, detail: `${await version().catch(() => 'chromium')} at ${CHROMIUM} (headless, for the console test)` };
    },
  };
}
