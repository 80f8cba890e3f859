import type { Session } from '@dirstream/db';

/**
 * One active poller per profile (invariant 8): a session-level advisory lock held on a dedicated
 * connection for as long as this process is the active poller. The lock dies with the
 * connection, so a crashed poller never blocks the standby ones.
 */
const lockKey = (profileId: string) => `dirstream-poller:${profileId}`;

/**
 * SQL that is true when the backend `backend` holds the profile's lock (pg_locks shows a
 * bigint advisory key as classid = high 32 bits, objid = low 32 bits, objsubid = 1).
 * `profile` and `backend` are SQL expressions (a column, a parameter).
 */
export function holdsLockSql(profile: string, backend: string): string {
  // The same key as lockKey(), computed in SQL.
  const key = `hashtextextended('dirstream-poller:' || ${profile}, 0)`;
  return `exists (select 1 from pg_locks l
    where l.locktype = 'advisory' and l.granted and l.pid = ${backend} and l.objsubid = 1
      and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = ((${key} >> 32) & 4294967295)::oid and l.objid = (${key} & 4294967295)::oid)`;
}

export async function tryLockProfile(session: Session, profileId: string): Promise<boolean> {
  const rows = await session.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as locked', [
    lockKey(profileId),
  ]);
  return rows[0]?.locked === true;
}

export async function unlockProfile(session: Session, profileId: string): Promise<void> {
  await session.query('select pg_advisory_unlock(hashtextextended($1, 0))', [lockKey(profileId)]);
}
