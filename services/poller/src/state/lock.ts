import type { Session } from './database.ts';

/**
 * One active poller per profile (invariant 8): a session-level advisory lock held on a dedicated
 * connection for as long as this process is the active poller. The lock dies with the
 * connection, so a crashed poller never blocks the standby ones.
 */
const lockKey = (profileId: string) => `dirstream-poller:${profileId}`;

export async function tryLockProfile(session: Session, profileId: string): Promise<boolean> {
  const rows = await session.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as locked', [
    lockKey(profileId),
  ]);
  return rows[0]?.locked === true;
}

export async function unlockProfile(session: Session, profileId: string): Promise<void> {
  await session.query('select pg_advisory_unlock(hashtextextended($1, 0))', [lockKey(profileId)]);
}
