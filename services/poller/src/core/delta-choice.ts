import type { DirectoryType } from '@dirstream/events';

/**
 * Which differential mechanism a profile uses, given what its server offers (DESIGN: "delta
 * mechanism fitted to the server"). Pure: the probe (directory/delta-probe.ts) gathers the facts.
 */

export type DeltaMechanismKind = 'none' | 'timestamp' | 'accesslog' | 'syncrepl' | 'usn' | 'dirsync';
export type ConfiguredDelta = DeltaMechanismKind | 'auto';

/** What one server offers, as probed (AD offers USN and DirSync by construction). */
export type ServerOffers = {
  /** An accesslog database (slapo-accesslog) the bind DN can read at `cn=accesslog`. */
  readonly accesslog: boolean;
  /** The Sync Request control (RFC 4533, 1.3.6.1.4.1.4203.1.9.1.1) in the rootDSE's supportedControl. */
  readonly syncrepl: boolean;
};

export type DeltaChoice =
  | { readonly ok: true; readonly kind: DeltaMechanismKind; readonly why: string; readonly cannotSee: string; readonly fallback: boolean }
  | { readonly ok: false; readonly message: string };

/** What each mechanism cannot see until the next full pass (docs/delta-mechanisms.md). */
export const BLIND_SPOTS: Readonly<Record<DeltaMechanismKind, string>> = {
  none: 'everything between full passes (every run is full)',
  timestamp:
    'deletions and entries leaving the filter or the base are found by the removal check (an ID-only page through the base); a change that does not touch modifyTimestamp (refint rewriting member values) waits for the full pass',
  accesslog: 'changes purged from the accesslog before the next run (olcAccessLogPurge) and writes not logged (olcAccessLogOps)',
  syncrepl:
    'nothing the provider tracks; without a session log (olcSpSessionlog / olcSpSessionlogSource) the server answers with a present phase and the run becomes a full pass',
  usn: 'changes on other domain controllers not yet replicated to the one read; a cursor from another or restored DC forces a full pass',
  dirsync: 'attributes the service account may not read; a cursor from another DC forces a full pass',
};

const FIX: Readonly<Record<string, string>> = {
  accesslog:
    'load slapo-accesslog with an accesslog database at cn=accesslog (olcAccessLogDB, olcAccessLogOps: writes) readable by the bind DN, or set schedule.delta: auto',
  syncrepl: 'add the syncprov overlay to the database (olcOverlay: syncprov, with a session log), or set schedule.delta: auto',
};

function missing(kind: 'accesslog' | 'syncrepl'): string {
  return kind === 'accesslog' ? 'no accesslog database readable at cn=accesslog' : 'no Sync Request control (syncprov) in supportedControl';
}

export function chooseDelta(input: {
  readonly directory: DirectoryType;
  readonly configured: ConfiguredDelta;
  readonly offers: ServerOffers | null;
}): DeltaChoice {
  const { directory, configured, offers } = input;
  const chosen = (kind: DeltaMechanismKind, why: string, fallback = false): DeltaChoice => ({
    ok: true,
    kind,
    why,
    cannotSee: BLIND_SPOTS[kind],
    fallback,
  });
  if (configured !== 'auto') {
    if ((configured === 'accesslog' || configured === 'syncrepl') && offers !== null && !offers[configured]) {
      return {
        ok: false,
        message: `schedule.delta is "${configured}" but the server offers it not (${missing(configured)}): ${FIX[configured]}`,
      };
    }
    return chosen(configured, 'configured');
  }
  if (directory === 'active-directory') return chosen('usn', 'auto: Active Directory (uSNChanged, deleted objects)');
  if (offers === null) return chosen('timestamp', 'auto: the server was not probed', true);
  if (directory === 'openldap' && offers.accesslog) return chosen('accesslog', 'auto: the server has an accesslog database');
  if (offers.syncrepl) {
    return chosen(
      'syncrepl',
      `auto: ${directory === 'openldap' ? `${missing('accesslog')}; ` : ''}the server offers RFC 4533 sync (syncprov)`,
      directory === 'openldap',
    );
  }
  const absent = directory === 'openldap' ? `${missing('accesslog')}, ${missing('syncrepl')}` : missing('syncrepl');
  return chosen('timestamp', `auto: ${absent}`, true);
}
