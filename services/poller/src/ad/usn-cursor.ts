/**
 * The AD delta cursor: the highestCommittedUSN of the DC that was read, pinned to that DC. A USN
 * only means something on the DC that issued it: another DC (dsServiceName), the same DC restored
 * from a backup (new invocationId), or a DC whose USN went backwards (a snapshot rolled back
 * without a new invocationId) all force a full pass.
 */

export type UsnCursor = {
  readonly dsServiceName: string;
  readonly invocationId: string;
  readonly usn: string;
};

export type DcIdentity = {
  readonly dsServiceName: string;
  readonly invocationId: string;
  readonly highestCommittedUsn: string;
};

const PREFIX = 'ad-usn:';

export function encodeUsnCursor(cursor: UsnCursor): string {
  return PREFIX + JSON.stringify({ dsa: cursor.dsServiceName, inv: cursor.invocationId, usn: cursor.usn });
}

/** null when the text is not an AD USN cursor (e.g. a cursor of another dialect): a full pass. */
export function decodeUsnCursor(text: string | null | undefined): UsnCursor | null {
  if (!text?.startsWith(PREFIX)) return null;
  try {
    const raw = JSON.parse(text.slice(PREFIX.length)) as { dsa?: unknown; inv?: unknown; usn?: unknown };
    if (typeof raw.dsa !== 'string' || typeof raw.inv !== 'string' || typeof raw.usn !== 'string') return null;
    if (!/^\d+$/.test(raw.usn)) return null;
    return { dsServiceName: raw.dsa, invocationId: raw.inv, usn: raw.usn };
  } catch {
    return null;
  }
}

export type CursorDecision =
  | { readonly mode: 'delta'; readonly sinceUsn: string }
  | { readonly mode: 'full'; readonly reason: 'no-cursor' | 'other-dc' | 'dc-restored' | 'usn-rollback' };

export function decideUsnPass(cursor: UsnCursor | null, dc: DcIdentity): CursorDecision {
  if (cursor === null) return { mode: 'full', reason: 'no-cursor' };
  if (cursor.dsServiceName.toLowerCase() !== dc.dsServiceName.toLowerCase()) return { mode: 'full', reason: 'other-dc' };
  if (cursor.invocationId.toLowerCase() !== dc.invocationId.toLowerCase()) return { mode: 'full', reason: 'dc-restored' };
  if (BigInt(dc.highestCommittedUsn) < BigInt(cursor.usn)) return { mode: 'full', reason: 'usn-rollback' };
  return { mode: 'delta', sinceUsn: cursor.usn };
}

/** The filter clause for "changed after the cursor": uSNChanged is inclusive, so cursor + 1. */
export function usnChangedFilter(sinceUsn: string): string {
  return `(uSNChanged>=${BigInt(sinceUsn) + 1n})`;
}
