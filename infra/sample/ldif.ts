/** LDIF (RFC 2849) writing: values that are not SAFE-STRINGs are base64 ("attr:: …"). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 2849 SAFE-CHAR excludes NUL, LF, CR
const UNSAFE = /[^\x01-\x09\x0b\x0c\x0e-\x7f]|^[ :<]| $/;

export function ldifLine(attribute: string, value: string | Buffer): string {
  if (Buffer.isBuffer(value)) return `${attribute}:: ${value.toString('base64')}`;
  if (value === '') return `${attribute}:`;
  if (UNSAFE.test(value)) return `${attribute}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
  return `${attribute}: ${value}`;
}

export type LdifEntry = {
  readonly dn: string;
  readonly attributes: Readonly<Record<string, string | Buffer | readonly (string | Buffer)[]>>;
};

export function toLdif(entry: LdifEntry): string {
  const lines = [ldifLine('dn', entry.dn)];
  for (const [name, value] of Object.entries(entry.attributes)) {
    const values = Array.isArray(value) ? value : [value as string | Buffer];
    for (const v of values) lines.push(ldifLine(name, v));
  }
  return `${lines.join('\n')}\n\n`;
}

/** Escapes an RDN value (RFC 4514 section 2.4). */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}
