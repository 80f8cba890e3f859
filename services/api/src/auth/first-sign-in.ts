import type { Database } from '@dirstream/applier';
import { sleep, toError } from '@dirstream/errors';
import type { UserState } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { type LdapEntry, mapUser, type SyncControl } from '@dirstream/poller';
import type { ProfileDirectory } from './directory.ts';
import { firstDcLabel, type LoginForm } from './lookup.ts';

/**
 * A login the directory has and the database does not yet (the user was created after the last
 * sync). Only the active poller produces a profile's events (DESIGN invariant 8), so sign-in
 * never writes the user itself: it asks the poller for a run (`requestSync`, a delta pass of the
 * profile, which sees a new entry under every delta mechanism: accesslog and USN record the add,
 * timestamps the createTimestamp/whenCreated), then waits, bounded, for the applier to store the
 * row. The user, its memberships and every downstream consumer learn about it exactly as from a
 * scheduled poll.
 */

/** The directory entry a login names, when it names exactly one (two would be ambiguous: none). */
export async function findUnsyncedEntry(directory: ProfileDirectory, form: LoginForm): Promise<LdapEntry | null> {
  if (
    form.domain !== null &&
    (directory.profile.directory !== 'active-directory' || firstDcLabel(directory.profile.users.baseDn) !== form.domain)
  )
    return null;
  const entries = await directory.findByLogin(form.name, form.principal, 2);
  return entries.length === 1 ? (entries[0] as LdapEntry) : null;
}

/** The entry as the poller would map it (same mapping and dialect), or null when it cannot be. */
export function mapEntry(directory: ProfileDirectory, entry: LdapEntry): UserState | null {
  const mapped = mapUser(entry, directory.mapping, directory.dialect, false);
  return mapped.ok ? mapped.state : null;
}

export type FirstSignInDeps = {
  readonly db: Database;
  readonly syncControl: () => Promise<SyncControl>;
  readonly logger: Logger;
  readonly waitMs: number;
};

/**
 * Requests the sync and waits for the user's row. Resolves true when the applier stored it within
 * `waitMs`, false otherwise (including when the request could not be made: the answer then comes
 * from the directory read, and the next scheduled poll brings the user in).
 */
export async function syncNewUser(deps: FirstSignInDeps, profileId: string, externalId: string, loginName: string): Promise<boolean> {
  const deadline = Date.now() + deps.waitMs;
  try {
    const control = await deps.syncControl();
    const run = await control.requestSync({ profileId, reason: 'first-sign-in', requestedBy: loginName });
    deps.logger.info({ profileId, externalId, runId: run.runId, coalesced: run.coalesced }, 'first sign-in: sync requested');
  } catch (cause) {
    deps.logger.warn({ profileId, externalId, err: toError(cause) }, 'first sign-in: sync request failed; answering from the directory');
    return false;
  }
  for (;;) {
    const rows = await deps.db.query('select 1 from users where profile_id = $1 and external_id = $2', [profileId, externalId]);
    if (rows.length > 0) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(100, left));
  }
}
