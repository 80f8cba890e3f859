/**
 * Range retrieval (MS-ADTS 3.1.1.3.1.3.3): a multi-valued attribute above the server's
 * MaxValRange comes back as `member;range=0-1499` with the rest to be asked for as
 * `member;range=1500-*`; the last chunk ends in `*`.
 */

export type RangedAttribute = {
  /** The attribute description without the range option, e.g. `member`. */
  readonly attribute: string;
  readonly low: number;
  /** null for `*`: this chunk is the last one. */
  readonly high: number | null;
};

const RANGE_OPTION = /^range=(\d+)-(\d+|\*)$/i;

/** Parses `member;range=0-1499`; null when the description has no range option. */
export function parseRangedAttribute(description: string): RangedAttribute | null {
  const parts = description.split(';');
  const rangeIndex = parts.findIndex((p, i) => i > 0 && RANGE_OPTION.test(p));
  if (rangeIndex < 0) return null;
  const m = RANGE_OPTION.exec(parts[rangeIndex]!)!;
  const low = Number(m[1]);
  const high = m[2] === '*' ? null : Number(m[2]);
  if (high !== null && high < low) return null;
  const attribute = parts.filter((_, i) => i !== rangeIndex).join(';');
  return { attribute, low, high };
}

/**
 * The description to ask for the chunk after `current`, or null when `current` was the last.
 * `step` bounds the request (`member;range=1500-2999`); without it the rest is asked for (`-*`).
 */
export function nextRangeRequest(current: RangedAttribute, step?: number): string | null {
  if (current.high === null) return null;
  return rangeRequest(current.attribute, current.high + 1, step);
}

export function rangeRequest(attribute: string, low: number, step?: number): string {
  const high = step === undefined ? '*' : String(low + step - 1);
  return `${attribute};range=${low}-${high}`;
}

/** Finds the ranged description of `attribute` among an entry's attribute names. */
export function findRangedAttribute(names: Iterable<string>, attribute: string): RangedAttribute | null {
  const wanted = attribute.toLowerCase();
  for (const name of names) {
    const parsed = parseRangedAttribute(name);
    if (parsed && parsed.attribute.toLowerCase() === wanted) return parsed;
  }
  return null;
}
