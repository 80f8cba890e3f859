import type { Entry } from 'ldapts';

/**
 * One directory entry with case-insensitive attribute access (servers answer with their own
 * spelling of attribute types: `entryuuid`, `entryUUID`, `1.3.6.1.1.16.4`).
 */
export type LdapEntry = {
  readonly dn: string;
  /** Lowercase attribute name → values (Buffers for binary attributes). */
  readonly attributes: ReadonlyMap<string, readonly (string | Buffer)[]>;
};

/** Takes over the entry's value arrays (ldapts builds them per entry): one page of entries is read once, not copied. */
export function toLdapEntry(entry: Entry): LdapEntry {
  const attributes = new Map<string, (string | Buffer)[]>();
  for (const key in entry) {
    if (key === 'dn' || !Object.hasOwn(entry, key)) continue;
    const value = entry[key] as string | Buffer | (string | Buffer)[];
    const name = key.toLowerCase();
    const existing = attributes.get(name);
    if (existing === undefined) attributes.set(name, Array.isArray(value) ? value : [value]);
    else if (Array.isArray(value)) for (const v of value) existing.push(v);
    else existing.push(value);
  }
  return { dn: entry.dn, attributes };
}

export function values(entry: LdapEntry, attribute: string): readonly (string | Buffer)[] {
  return entry.attributes.get(attribute.toLowerCase()) ?? [];
}

export function stringValues(entry: LdapEntry, attribute: string): string[] {
  return values(entry, attribute).map((v) => (typeof v === 'string' ? v : v.toString('base64')));
}

export function firstString(entry: LdapEntry, attribute: string): string | null {
  const v = values(entry, attribute)[0];
  if (v === undefined) return null;
  const s = typeof v === 'string' ? v : v.toString('base64');
  return s === '' ? null : s;
}

/** LDAP GeneralizedTime (`20261122030405Z`, `20261122030405.123456Z`) → epoch ms, or null. */
export function parseGeneralizedTime(value: string | null): number | null {
  if (value === null) return null;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  if (frac) ms += Math.floor(Number(`0.${frac}`) * 1000);
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return ms;
}

/** epoch ms → GeneralizedTime with seconds precision (`YYYYMMDDhhmmssZ`). */
export function formatGeneralizedTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}
