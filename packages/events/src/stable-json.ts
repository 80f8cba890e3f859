import { configure } from 'safe-stable-stringify';

/**
 * JSON with object keys sorted at every level, so equal states give equal strings: the poller
 * hashes entity states with it and the applier's canonical dump compares databases with it.
 * `undefined` object members are left out (as JSON.stringify does); a cycle throws.
 */
export const stableJson: (value: unknown) => string = configure({ deterministic: true, circularValue: TypeError, bigint: false }) as (
  value: unknown,
) => string;
