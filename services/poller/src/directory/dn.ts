/**
 * Distinguished names compared in a normalised form (RFC 4514 string form, RFC 4517 matching
 * approximated): attribute types lowercase, values unescaped then re-escaped canonically and
 * lowercased (the naming attributes we meet — cn, uid, ou, dc, o, l — all match case-insensitively),
 * insignificant spaces removed, multi-valued RDNs sorted. `cn=Doe\, John`, `CN=doe\2C john` and
 * the quoted form older servers send, `cn="Doe, John"`, normalise to the same string.
 */

export type Ava = { readonly type: string; readonly value: string };
export type Rdn = readonly Ava[];

const HEX = /^[0-9a-fA-F]{2}$/;

/** RFC 4514 §3: a type may be given as its OID; the naming attributes we meet, by name. */
const TYPE_BY_OID: Readonly<Record<string, string>> = {
  '2.5.4.3': 'cn',
  '2.5.4.6': 'c',
  '2.5.4.7': 'l',
  '2.5.4.8': 'st',
  '2.5.4.9': 'street',
  '2.5.4.10': 'o',
  '2.5.4.11': 'ou',
  '0.9.2342.19200300.100.1.1': 'uid',
  '0.9.2342.19200300.100.1.25': 'dc',
};

function canonicalType(type: string): string {
  const t = type.startsWith('oid.') ? type.slice(4) : type;
  return TYPE_BY_OID[t] ?? t;
}

/** Splits a DN string into RDNs of (type, unescaped value). Throws on a malformed DN. */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  if (dn.trim() === '') return rdns;
  let avas: Ava[] = [];
  let i = 0;
  const n = dn.length;

  /** One escape at dn[i] (a backslash): a run of \XX pairs decodes as UTF-8 bytes, \c is c. */
  function readEscape(): string {
    if (HEX.test(dn.slice(i + 1, i + 3))) {
      const bytes: number[] = [];
      while (dn[i] === '\\' && HEX.test(dn.slice(i + 1, i + 3))) {
        bytes.push(Number.parseInt(dn.slice(i + 1, i + 3), 16));
        i += 3;
      }
      return Buffer.from(bytes).toString('utf8');
    }
    if (i + 1 >= n) throw new Error(`malformed DN: trailing backslash in ${JSON.stringify(dn)}`);
    i += 2;
    return dn[i - 1] as string;
  }

  /**
   * A quoted value at dn[i], the RFC 1779 form that RFC 2253 §4 required parsers to accept and
   * RFC 4514 still lets them recognise (servers of that era send it). Inside the quotes
   * `, + ; = < > #` and spaces are part of the value; `\"`, `\\` and `\XX` are escapes as
   * outside. Only spaces may follow the closing quote.
   */
  function readQuotedValue(): string {
    i++; // opening '"'
    let value = '';
    while (i < n && dn[i] !== '"') value += dn[i] === '\\' ? readEscape() : (dn[i++] as string);
    if (i >= n) throw new Error(`malformed DN: unterminated quoted value in ${JSON.stringify(dn)}`);
    i++; // closing '"'
    while (i < n && dn[i] === ' ') i++;
    if (i < n && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') {
      throw new Error(`malformed DN: text after a quoted value in ${JSON.stringify(dn)}`);
    }
    return value;
  }

  while (i < n) {
    while (i < n && dn[i] === ' ') i++;
    let type = '';
    while (i < n && dn[i] !== '=') type += dn[i++];
    if (i >= n) throw new Error(`malformed DN: missing "=" in ${JSON.stringify(dn)}`);
    i++; // '='
    type = canonicalType(type.trim().toLowerCase());
    if (type === '') throw new Error(`malformed DN: empty attribute type in ${JSON.stringify(dn)}`);
    while (i < n && dn[i] === ' ') i++;
    let value = '';
    if (dn[i] === '"') {
      value = readQuotedValue();
    } else if (dn[i] === '#') {
      // BER-encoded value: keep the hex form, compare it lowercase.
      while (i < n && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') value += dn[i++];
      value = value.trim().toLowerCase();
    } else {
      // Plain characters are appended as they are; runs of \XX escapes are decoded as UTF-8 bytes.
      let trailingSpaces = 0;
      while (i < n) {
        const ch = dn[i] as string;
        if (ch === ',' || ch === '+' || ch === ';') break;
        if (ch === '\\') {
          value += readEscape();
          trailingSpaces = 0;
          continue;
        }
        i++;
        trailingSpaces = ch === ' ' ? trailingSpaces + 1 : 0;
        value += ch;
      }
      // Unescaped trailing spaces are not part of the value (RFC 4514 §3).
      if (trailingSpaces > 0) value = value.slice(0, value.length - trailingSpaces);
    }
    avas.push({ type, value });
    if (i < n && dn[i] === '+') {
      i++;
      continue;
    }
    rdns.push(avas);
    avas = [];
    if (i < n) i++; // ',' or ';'
  }
  if (avas.length > 0) rdns.push(avas);
  return rdns;
}

/** RFC 4514 §2.4 escaping of one attribute value. */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === ',' || ch === '+' || ch === '"' || ch === '\\' || ch === '<' || ch === '>' || ch === ';' || ch === '=') {
      out += `\\${ch}`;
    } else if (ch === '\0') {
      out += '\\00';
    } else if ((ch === ' ' && (i === 0 || i === value.length - 1)) || (ch === '#' && i === 0)) {
      out += `\\${ch}`;
    } else {
      out += ch;
    }
  }
  return out;
}

function formatRdn(rdn: Rdn, lower: boolean): string {
  const parts = rdn.map(
    (ava) =>
      `${ava.type}=${ava.value.startsWith('#') && /^#[0-9a-f]+$/.test(ava.value) ? ava.value : escapeDnValue(lower ? ava.value.toLowerCase() : ava.value)}`,
  );
  if (parts.length > 1) parts.sort();
  return parts.join('+');
}

/**
 * A DN whose every RDN is `name=value` with a named type (no OID), one value, no quote, no hex
 * escape, no `#` or space at a value's edge and no space around `=` and `,`: its normal form is
 * its lowercase form (an escaped special character, `\,`, is re-escaped the same way). Nearly
 * every DN a directory sends looks like this, AD's `CN=Doe\, John` included; the parser is kept
 * for the others.
 */
const PLAIN_RDN = (() => {
  const escaped = '\\\\[,+"\\\\<>;=]';
  const first = `(?:[^\\\\"+;=,<>\\0 #]|${escaped})`;
  const middle = `(?:[^\\\\"+;=,<>\\0]|${escaped})`;
  const last = `(?:[^\\\\"+;=,<>\\0 ]|${escaped})`;
  return `[A-Za-z][A-Za-z0-9-]*=${first}(?:${middle}*${last})?`;
})();
const PLAIN_DN = new RegExp(`^${PLAIN_RDN}(?:,${PLAIN_RDN})*$`);

/** The comparison form of a DN. Malformed input falls back to a trimmed lowercase string. */
export function normaliseDn(dn: string): string {
  if (PLAIN_DN.test(dn)) return dn.toLowerCase();
  try {
    return parseDn(dn)
      .map((rdn) => formatRdn(rdn, true))
      .join(',');
  } catch {
    return dn.trim().toLowerCase();
  }
}

/** The normalised parent DN ('' for a single-RDN DN). */
export function parentDn(dn: string): string {
  const norm = normaliseDn(dn);
  const rdns = splitNormalised(norm);
  return rdns.slice(1).join(',');
}

/** The normalised first RDN. */
export function firstRdn(dn: string): string {
  return splitNormalised(normaliseDn(dn))[0] ?? '';
}

/** True when `dn` is `base` or below it (both compared normalised). */
export function isUnderDn(dn: string, base: string): boolean {
  const d = normaliseDn(dn);
  const b = normaliseDn(base);
  if (b === '') return true;
  return d === b || d.endsWith(`,${b}`);
}

/** Splits a normalised DN on unescaped commas. */
function splitNormalised(norm: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < norm.length; i++) {
    const ch = norm[i] as string;
    if (ch === '\\' && i + 1 < norm.length) {
      current += ch + (norm[i + 1] as string);
      i++;
    } else if (ch === ',') {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (norm !== '') out.push(current);
  return out;
}

/** How a DN changed between two versions of an entry: `moved` wins when the parent changed. */
export function dnChange(previousDn: string, nextDn: string): 'none' | 'renamed' | 'moved' {
  if (normaliseDn(previousDn) === normaliseDn(nextDn)) return 'none';
  return parentDn(previousDn) === parentDn(nextDn) ? 'renamed' : 'moved';
}

/**
 * The DN of a NameAndOptionalUID value (RFC 4517 §3.3.21, `uniqueMember`): `dn#'0101'B` names
 * `dn`. A DN value never ends in an unescaped `#'…'B` (a `#` is escaped only at a value's start,
 * so the RFC reads the suffix as the UID), hence the suffix is cut whatever precedes it.
 */
export function nameAndOptionalUidDn(value: string): string {
  const match = /#'[01]*'B\s*$/i.exec(value);
  return match ? value.slice(0, match.index) : value;
}

/** RFC 4515 escaping of a value placed in a search filter. */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '*' || ch === '(' || ch === ')' || ch === '\\' || ch === '\0') {
      out += `\\${(ch.codePointAt(0) as number).toString(16).padStart(2, '0')}`;
    } else {
      out += ch;
    }
  }
  return out;
}
