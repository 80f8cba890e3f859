import { EqualityFilter, type Filter, FilterParser } from 'ldapts';

/**
 * Parses an RFC 4515 filter string so that `\xx` escapes become the raw bytes they stand for.
 * ldapts unescapes `\xx` to the character U+00xx and then sends the value as UTF-8, which turns
 * every byte ≥ 0x80 into two: binary assertions such as `(objectGUID=\2a\8b…)` would never match.
 *
 * Literal non-ASCII characters are first rewritten as their UTF-8 escapes, so after ldapts'
 * parse each character of a value is exactly one byte. Equality values are then sent as those
 * bytes; the other filter types only carry text in ldapts, so their bytes are read back as UTF-8.
 */
export function parseLdapFilter(text: string): Filter {
  let escaped = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x80) escaped += char;
    else for (const byte of Buffer.from(char, 'utf8')) escaped += `\\${byte.toString(16).padStart(2, '0')}`;
  }
  const filter = FilterParser.parseString(escaped);
  fixValues(filter);
  return filter;
}

const asText = (value: string) => Buffer.from(value, 'latin1').toString('utf8');

function fixValues(filter: Filter): void {
  const node = filter as unknown as {
    filters?: Filter[];
    filter?: Filter;
    value?: string | Buffer;
    initial?: string;
    any?: string[];
    final?: string;
  };
  if (Array.isArray(node.filters)) for (const child of node.filters) fixValues(child);
  if (node.filter) fixValues(node.filter);
  if (filter instanceof EqualityFilter) {
    if (typeof filter.value === 'string') {
      const bytes = Buffer.from(filter.value, 'latin1');
      // Keep plain text as a string (ldapts lower-cases objectClass values it can read).
      filter.value = bytes.every((b) => b < 0x80) ? filter.value : bytes;
    }
    return;
  }
  if (typeof node.value === 'string') node.value = asText(node.value);
  if (typeof node.initial === 'string') node.initial = asText(node.initial);
  if (typeof node.final === 'string') node.final = asText(node.final);
  if (Array.isArray(node.any)) node.any = node.any.map(asText);
}
