import type { DirstreamConfig } from '@dirstream/config';
import { toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { connectDirectory } from '../directory/client.ts';
import { fitDelta } from './fit-delta.ts';

export type ProfileCheck = { readonly profile: string; readonly ok: boolean; readonly line: string };

/**
 * `dirstream config check --connect`: binds as each profile's service account and probes the
 * delta mechanism it would use. A disabled profile is listed, not contacted.
 */
export async function checkProfileConnections(deps: {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
}): Promise<ProfileCheck[]> {
  const out: ProfileCheck[] = [];
  for (const profile of deps.config.profiles) {
    if (!profile.enabled) {
      out.push({ profile: profile.name, ok: true, line: `${profile.name}: disabled (enabled: false), not contacted` });
      continue;
    }
    try {
      const connection = await connectDirectory(profile.connection, deps.logger);
      try {
        const choice = await fitDelta(profile, connection);
        out.push({
          profile: profile.name,
          ok: true,
          line: `${profile.name}: bound to ${connection.url}; delta ${choice.kind} (${choice.why}); cannot see until the next full pass: ${choice.cannotSee}`,
        });
      } finally {
        await connection.close();
      }
    } catch (cause) {
      out.push({ profile: profile.name, ok: false, line: `${profile.name}: ${toError(cause).message}` });
    }
  }
  return out;
}
