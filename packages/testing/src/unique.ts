import { randomBytes } from 'node:crypto';

/** A name no other test run uses: topic prefix, consumer group, database or OU name. */
export function uniquePrefix(label: string): string {
  const clean =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 24) || 't';
  return `t-${clean}-${randomBytes(4).toString('hex')}`;
}
