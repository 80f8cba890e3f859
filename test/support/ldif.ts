/**
 * A directory snapshot taken with the plain `ldapsearch` binary (OpenLDAP's ldap-utils) and its
 * LDIF parsed here: the oracle must not share code with the poller's directory access.
 */
import { spawn } from 'node:child_process';

export type LdifEntry = {
  readonly dn: string;
  /** Attribute names lower-cased; values as text (base64 values decoded as UTF-8) or raw bytes. */
  readonly attributes: ReadonlyMap<string, readonly string[]>;
  readonly raw: ReadonlyMap<string, readonly Buffer[]>;
};

/** RFC 2849 subset: `dn:`/`dn::`, `attr: value`, `attr:: base64`, folded lines, `#` comments. */
export function parseLdif(text: string): LdifEntry[] {
  const entries: LdifEntry[] = [];
  const unfolded: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith(' ') && unfolded.length > 0) unfolded[unfolded.length - 1] += line.slice(1);
    else unfolded.push(line);
  }
  let dn: string | null = null;
  let attributes = new Map<string, string[]>();
  let raw = new Map<string, Buffer[]>();
  const flush = () => {
    if (dn !== null) entries.push({ dn, attributes, raw });
    dn = null;
    attributes = new Map();
    raw = new Map();
  };
  for (const line of unfolded) {
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`LDIF: cannot parse line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon);
    let bytes: Buffer;
    if (line[colon + 1] === ':') bytes = Buffer.from(line.slice(colon + 2).trimStart(), 'base64');
    else bytes = Buffer.from(line.slice(colon + 1).replace(/^ /, ''), 'utf8');
    if (name.toLowerCase() === 'dn') {
      flush();
      dn = bytes.toString('utf8');
      continue;
    }
    const key = name.toLowerCase();
    attributes.set(key, [...(attributes.get(key) ?? []), bytes.toString('utf8')]);
    raw.set(key, [...(raw.get(key) ?? []), bytes]);
  }
  flush();
  return entries;
}

export type LdapSearchOptions = {
  readonly url: string;
  readonly bindDn: string;
  /** A file holding the password (ldapsearch -y: the whole file, so no trailing newline). */
  readonly passwordFile: string;
  readonly baseDn: string;
  readonly filter: string;
  readonly attributes: readonly string[];
  readonly pageSize?: number;
  readonly timeoutMs?: number;
  /** Extra environment for ldapsearch, e.g. LDAPTLS_CACERT for an ldaps:// URL. */
  readonly env?: Readonly<Record<string, string>>;
};

/** Runs `ldapsearch -x -LLL` (paged) and parses the result. Rejects on a non-zero exit. */
export function ldapsearch(options: LdapSearchOptions): Promise<LdifEntry[]> {
  const args = [
    '-x',
    '-LLL',
    '-o',
    'ldif-wrap=no',
    '-H',
    options.url,
    '-D',
    options.bindDn,
    '-y',
    options.passwordFile,
    '-b',
    options.baseDn,
    '-s',
    'sub',
    '-E',
    `pr=${options.pageSize ?? 1000}/noprompt`,
    options.filter,
    ...options.attributes,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('ldapsearch', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // 32 = noSuchObject: the base is gone, an empty result.
      if (code === 0 || code === 32) resolve(code === 32 ? [] : parseLdif(Buffer.concat(out).toString('utf8')));
      else reject(new Error(`ldapsearch exited ${code ?? signal}: ${err.trim()}`));
    });
  });
}
