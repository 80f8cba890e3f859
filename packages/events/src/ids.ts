/**
 * Deterministic event IDs: the same inputs give the same ID in every process and after every
 * restart, so a re-emitted or replayed event carries the ID consumers already deduplicated.
 */
import { createHash } from 'node:crypto';
import { DirstreamError } from '@dirstream/errors';

const DOMAIN = 'dirstream.event-id.v1';
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUID-shaped ID (RFC 9562 version 8, "custom") from the SHA-256 of the parts. Numbers are
 * formatted as decimal strings first, so `eventIdFor('u', 5)` equals `eventIdFor('u', '5')`.
 * The parts are hashed as a JSON array, so ('a/b', 'c') and ('a', 'b/c') differ.
 */
export function eventIdFor(...parts: ReadonlyArray<string | number>): string {
  if (parts.length === 0) {
    throw new DirstreamError('EVENT_ID_INVALID', 'eventIdFor needs at least one part');
  }
  const strings = parts.map((part, index) => {
    if (typeof part === 'string') return part;
    if (typeof part === 'number' && Number.isFinite(part)) return String(part);
    throw new DirstreamError('EVENT_ID_INVALID', `eventIdFor part ${index} is not a string or finite number`);
  });
  const digest = createHash('sha256').update(DOMAIN).update(JSON.stringify(strings)).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[digest[i]!];
  }
  return out;
}
