/**
 * userAccountControl (MS-ADTS 2.2.16) and msDS-User-Account-Control-Computed. AD never sets the
 * LOCKOUT and PASSWORD_EXPIRED bits in the stored userAccountControl reliably; the constructed
 * msDS-User-Account-Control-Computed has them (Samba computes it too). lockoutTime and
 * accountExpires are read as a fallback.
 */

export const UAC = {
  ACCOUNTDISABLE: 0x2,
  LOCKOUT: 0x10,
  PASSWD_NOTREQD: 0x20,
  NORMAL_ACCOUNT: 0x200,
  DONT_EXPIRE_PASSWORD: 0x1_0000,
  SMARTCARD_REQUIRED: 0x4_0000,
  PASSWORD_EXPIRED: 0x80_0000,
} as const;

/** FILETIME values meaning "never" for accountExpires. */
const NEVER = new Set(['0', '9223372036854775807']);
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

/** FILETIME (100 ns ticks since 1601-01-01 UTC, as the decimal string LDAP returns) → epoch ms; null for "never". */
export function fileTimeToMs(value: string | undefined | null): number | null {
  if (value === undefined || value === null || value === '' || NEVER.has(value)) return null;
  if (!/^-?\d+$/.test(value)) return null;
  const ticks = BigInt(value);
  if (ticks <= 0n) return null;
  return Number(ticks / 10_000n - FILETIME_EPOCH_OFFSET_MS);
}

/** GeneralizedTime (`20261122030405.0Z`) → epoch ms, or null when it does not parse. */
export function generalizedTimeToMs(value: string | undefined | null): number | null {
  if (!value) return null;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})?$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'), ms);
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return t;
}

export type AccountStatus = {
  readonly enabled: boolean;
  readonly lockedOut: boolean;
  readonly passwordExpired: boolean;
  readonly accountExpired: boolean;
  readonly passwordNeverExpires: boolean;
};

export type AccountStatusInput = {
  readonly userAccountControl: number;
  /** msDS-User-Account-Control-Computed, when the server returned it. */
  readonly computed?: number | null;
  /** lockoutTime (FILETIME string); non-zero means locked until the lockout window passes. */
  readonly lockoutTime?: string | null;
  /** accountExpires (FILETIME string). */
  readonly accountExpires?: string | null;
  readonly nowMs: number;
};

export function accountStatus(input: AccountStatusInput): AccountStatus {
  const uac = input.userAccountControl;
  const computed = input.computed ?? 0;
  const lockedOut =
    (computed & UAC.LOCKOUT) !== 0 ||
    // Without the computed attribute, a non-zero lockoutTime is the best signal there is.
    (input.computed == null && (uac & UAC.LOCKOUT) !== 0) ||
    (input.computed == null && fileTimeToMs(input.lockoutTime) !== null);
  const expiresAt = fileTimeToMs(input.accountExpires);
  return {
    enabled: (uac & UAC.ACCOUNTDISABLE) === 0,
    lockedOut,
    passwordExpired: (computed & UAC.PASSWORD_EXPIRED) !== 0 || (uac & UAC.PASSWORD_EXPIRED) !== 0,
    accountExpired: expiresAt !== null && expiresAt <= input.nowMs,
    passwordNeverExpires: (uac & UAC.DONT_EXPIRE_PASSWORD) !== 0,
  };
}
