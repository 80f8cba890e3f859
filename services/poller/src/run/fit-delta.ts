import type { ProfileConfig } from '@dirstream/config';
import { createError } from '@dirstream/errors';
import { chooseDelta, type DeltaChoice } from '../core/delta-choice.ts';
import type { DirectoryConnection } from '../directory/client.ts';
import { probeServer } from '../directory/delta-probe.ts';

/**
 * The delta mechanism of a profile on the server it is connected to: probed (OpenLDAP and generic
 * LDAP; Active Directory offers USN and DirSync by construction), then chosen. An explicitly
 * configured mechanism the server does not offer is DELTA_UNAVAILABLE, naming the fix.
 */
export async function fitDelta(profile: ProfileConfig, connection: DirectoryConnection): Promise<Extract<DeltaChoice, { ok: true }>> {
  const configured = profile.schedule.delta;
  const needsProbe =
    profile.directory !== 'active-directory' && (configured === 'auto' || configured === 'accesslog' || configured === 'syncrepl');
  const offers = needsProbe ? await probeServer(connection) : null;
  const choice = chooseDelta({ directory: profile.directory, configured, offers });
  if (!choice.ok) {
    throw createError('DELTA_UNAVAILABLE', `profile ${profile.name} on ${connection.url}: ${choice.message}`, { retriable: false });
  }
  return choice;
}
