import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { escapeDnValue, type LdifEntry, toLdif } from './ldif.ts';

/**
 * A deterministic sample directory (same seed → same entries): users with realistic UTF-8 names,
 * some multi-valued mail, DNs that need escaping, groups with members, nested groups (one cycle)
 * and a few very large groups. Used by tests, the demo and the benchmarks.
 */
export type SampleOptions = {
  readonly seed: number;
  readonly users: number;
  readonly groups: number;
  /** Groups with `largeGroupSize` members each (capped at `users`). */
  readonly largeGroups: number;
  readonly largeGroupSize: number;
  /** Emit the suffix and OU entries too (for slapadd into an empty database). */
  readonly baseDn: string;
  readonly includeBase: boolean;
  /** Share of users marked disabled (`employeeType: inactive`), 0..1. */
  readonly disabledShare: number;
};

export const DEFAULT_SAMPLE: SampleOptions = {
  seed: 42,
  users: 1_000,
  groups: 50,
  largeGroups: 0,
  largeGroupSize: 0,
  baseDn: 'dc=dirstream,dc=test',
  includeBase: false,
  disabledShare: 0.02,
};

/** The filter matching disabled users in sample directories. */
export const SAMPLE_DISABLED_FILTER = '(employeeType=inactive)';

/** mulberry32: a small seedable PRNG (same seed → same sequence). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const GIVEN = [
  'John',
  'Jürgen',
  'Zoë',
  'Ана',
  'Łukasz',
  'María',
  'Søren',
  '明',
  'Fatima',
  "O'Neil",
  'Chloé',
  'Björn',
  'Aiko',
  'Nuño',
  'Émile',
  'Priya',
];
const FAMILY = [
  'Doe',
  'Müller',
  'García',
  'Иванова',
  'Nowak',
  'Ødegård',
  '山田',
  'Smith',
  'Dupont',
  'Núñez',
  'Kowalski',
  'Björk',
  'O"Brien',
  'Lee',
  'Rossi',
  'Nakamura',
];
const TITLES = ['Engineer', 'Manager', 'Analyst', 'Director', 'Technician', 'Consultant'];
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella'];
const OUS = ['staff', 'contractors', 'sales'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

export type SampleUser = { readonly index: number; readonly dn: string; readonly uid: string; readonly disabled: boolean };

export function userUid(index: number): string {
  return `u${String(index).padStart(6, '0')}`;
}

/** The entries of a sample directory, in an order slapadd accepts (parents first). */
export function* sampleEntries(options: SampleOptions): Generator<LdifEntry> {
  const random = mulberry32(options.seed);
  const base = options.baseDn;
  const people = `ou=people,${base}`;
  const groupsDn = `ou=groups,${base}`;
  if (options.includeBase) {
    const dc = /^dc=([^,]+)/i.exec(base)?.[1] ?? 'dirstream';
    yield { dn: base, attributes: { objectClass: ['top', 'dcObject', 'organization'], dc, o: 'dirstream sample' } };
  }
  yield { dn: people, attributes: { objectClass: ['top', 'organizationalUnit'], ou: 'people' } };
  for (const ou of OUS) yield { dn: `ou=${ou},${people}`, attributes: { objectClass: ['top', 'organizationalUnit'], ou } };
  yield { dn: groupsDn, attributes: { objectClass: ['top', 'organizationalUnit'], ou: 'groups' } };

  const userDns: string[] = new Array(options.users);
  for (let i = 0; i < options.users; i++) {
    const given = pick(random, GIVEN);
    const family = pick(random, FAMILY);
    const uid = userUid(i);
    const cn = `${family}, ${given} ${i}`;
    const ou = OUS[i % OUS.length] as string;
    // Every third user is named by cn (needs escaping: "cn=Doe\, John 3"), the rest by uid.
    const rdn = i % 3 === 0 ? `cn=${escapeDnValue(cn)}` : `uid=${uid}`;
    const dn = `${rdn},ou=${ou},${people}`;
    userDns[i] = dn;
    const mail = [`${uid}@example.test`];
    if (random() < 0.1) mail.push(`${uid}.alias@example.test`);
    const attributes: Record<string, string | string[]> = {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      uid,
      cn,
      sn: family,
      givenName: given,
      displayName: `${given} ${family}`,
      mail,
      telephoneNumber: `+1 555 ${String(i % 10_000).padStart(4, '0')}`,
      title: pick(random, TITLES),
      o: pick(random, COMPANIES),
    };
    if (random() < options.disabledShare) attributes.employeeType = 'inactive';
    yield { dn, attributes };
  }

  // Regular groups: each user in 1–3 of them. Large groups take the first `largeGroupSize` users
  // of a shuffled range. Groups 0..4 nest: g1 ⊂ g0, g2 ⊂ g1, g3 ⊂ g2, and g4 ⇄ g3 form a cycle.
  const members: number[][] = Array.from({ length: options.groups }, () => []);
  const regular = Math.max(1, options.groups - options.largeGroups);
  for (let i = 0; i < options.users; i++) {
    const count = 1 + Math.floor(random() * 3);
    for (let k = 0; k < count; k++) {
      const g = Math.floor(random() * regular);
      const list = members[g];
      if (list && list[list.length - 1] !== i) list.push(i);
    }
  }
  for (let l = 0; l < options.largeGroups; l++) {
    const g = options.groups - 1 - l;
    if (g < 0) break;
    const size = Math.min(options.largeGroupSize, options.users);
    const offset = Math.floor(random() * options.users);
    members[g] = Array.from({ length: size }, (_, k) => (offset + k) % options.users);
  }
  const groupDn = (g: number) => `cn=group-${String(g).padStart(4, '0')},${groupsDn}`;
  const nested: Record<number, number[]> = { 0: [1], 1: [2], 2: [3], 3: [4], 4: [3] };
  for (let g = 0; g < options.groups; g++) {
    const memberDns = [...new Set((members[g] ?? []).map((i) => userDns[i] as string))];
    for (const child of nested[g] ?? []) if (child < options.groups) memberDns.push(groupDn(child));
    // groupOfNames requires at least one member.
    if (memberDns.length === 0) memberDns.push(userDns[g % Math.max(1, options.users)] ?? base);
    yield {
      dn: groupDn(g),
      attributes: {
        objectClass: ['top', 'groupOfNames'],
        cn: `group-${String(g).padStart(4, '0')}`,
        description: g >= options.groups - options.largeGroups ? 'large group' : `sample group ${g}`,
        member: memberDns,
      },
    };
  }
}

/** Writes the sample directory as LDIF; returns the number of entries. */
export async function writeSampleLdif(path: string, options: SampleOptions): Promise<number> {
  const out = createWriteStream(path);
  let count = 0;
  for (const entry of sampleEntries(options)) {
    if (!out.write(toLdif(entry))) await once(out, 'drain');
    count++;
  }
  out.end();
  await once(out, 'finish');
  return count;
}
