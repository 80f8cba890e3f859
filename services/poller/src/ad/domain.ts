import { parseDn } from '../directory/dn.ts';

/** AD's MaxPageSize: a larger page is silently cut to this. */
export const AD_MAX_PAGE_SIZE = 1_000;

/** The domain root (`DC=…` tail) of a DN: where tombstones and domain-wide searches start. */
export function domainDnOf(dn: string): string {
  const rdns = parseDn(dn);
  let start = rdns.length;
  while (start > 0 && rdns[start - 1]!.every((ava) => ava.type.toLowerCase() === 'dc')) start--;
  return rdns
    .slice(start)
    .map((rdn) => rdn.map((ava) => `DC=${ava.value}`).join('+'))
    .join(',');
}
