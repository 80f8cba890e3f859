import { FilterParser } from 'ldapts';

/**
 * An LDAP filter (RFC 4515) checked when the configuration is loaded, so a typo is a
 * CONFIG_INVALID naming the key and the character instead of a failed run. ldapts' parser is the
 * one the poller sends with; it accepts a missing final `)`, so the parentheses are counted first.
 */
export function ldapFilterProblem(text: string): string | null {
  let depth = 0;
  const open: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '(') {
      if (depth === 0 && i > 0 && open.length === 0 && text.slice(0, i).trim() !== '') {
        return `text before "(" at character ${i + 1}: a filter is one parenthesised expression; combine several with (&…) or (|…)`;
      }
      depth++;
      open.push(i);
    } else if (ch === ')') {
      if (depth === 0) return `unexpected ")" at character ${i + 1}`;
      depth--;
      open.pop();
      if (depth === 0 && text.slice(i + 1).trim() !== '') {
        return `text after the end of the filter at character ${i + 2}: a filter is one parenthesised expression; combine several with (&…) or (|…)`;
      }
    }
  }
  if (depth > 0) return `"(" at character ${(open[open.length - 1] ?? 0) + 1} is never closed`;
  try {
    FilterParser.parseString(text.trim().startsWith('(') ? text : `(${text})`);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const expression = /(?:Invalid expression|Invalid attribute name|in value): (.*?)(?:\. Full string:.*)?$/.exec(message)?.[1];
    const at = expression === undefined ? -1 : text.indexOf(expression);
    return `${message.replace(/\. Full string: .*$/, '')}${at >= 0 ? ` at character ${at + 1}` : ''}`;
  }
  return null;
}

/**
 * Attributes holding credentials (hashes, keys): never mapped into events, whatever the key.
 * Compared case-insensitively, without attribute options (`userPassword;binary`).
 */
export const PASSWORD_ATTRIBUTES: readonly string[] = [
  'userPassword',
  'authPassword',
  'unicodePwd',
  'dBCSPwd',
  'supplementalCredentials',
  'ntPwdHistory',
  'lmPwdHistory',
  'msDS-ManagedPassword',
  'msDS-KeyCredentialLink',
  'sambaNTPassword',
  'sambaLMPassword',
  'sambaPasswordHistory',
  'userPKCS12',
  'krbPrincipalKey',
];

const PASSWORD_SET = new Set(PASSWORD_ATTRIBUTES.map((a) => a.toLowerCase()));

export function isPasswordAttribute(attribute: string): boolean {
  return PASSWORD_SET.has(attribute.split(';')[0]?.trim().toLowerCase() ?? '');
}
