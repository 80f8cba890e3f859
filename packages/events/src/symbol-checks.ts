/**
 * The enum-like fields are Avro strings on the wire (their values contain `-`, which Avro enum
 * symbols cannot, and a string lets a newer producer add a value without breaking older
 * readers). Producers using this package may only write the values types.ts knows; readers get
 * whatever the writer sent and must tolerate values they do not know.
 */
import {
  AUTH_EVENT_RESULTS,
  DIRECTORY_TYPES,
  DISABLED_REASONS,
  GROUP_OPERATIONS,
  LIFECYCLE_TYPES,
  MEMBER_TYPES,
  MEMBERSHIP_OPERATIONS,
  RECORD_TYPES,
  type RecordType,
  RUN_DETAIL_KINDS,
  RUN_STATUSES,
  SYNC_MODES,
  USER_OPERATIONS,
} from './types.ts';

type SymbolField = {
  readonly path: readonly string[];
  readonly allowed: ReadonlySet<string>;
  readonly nullable: boolean;
};

function field(path: string, allowed: readonly string[], nullable = false): SymbolField {
  return { path: path.split('.'), allowed: new Set(allowed), nullable };
}

const SOURCE = [field('source.directoryType', DIRECTORY_TYPES), field('source.mode', SYNC_MODES)];

export const SYMBOL_FIELDS: { readonly [T in RecordType]: readonly SymbolField[] } = {
  'user-event': [field('op', USER_OPERATIONS), field('state.disabledReason', DISABLED_REASONS, true), ...SOURCE],
  'group-event': [field('op', GROUP_OPERATIONS), ...SOURCE],
  'membership-event': [field('op', MEMBERSHIP_OPERATIONS), field('memberType', MEMBER_TYPES), ...SOURCE],
  'sync-run': [field('directoryType', DIRECTORY_TYPES), field('mode', SYNC_MODES), field('status', RUN_STATUSES)],
  'user-lifecycle': [field('type', LIFECYCLE_TYPES), field('reason', DISABLED_REASONS, true)],
  'dead-letter': [],
  'auth-event': [field('result', AUTH_EVENT_RESULTS)],
  'run-detail': [field('kind', RUN_DETAIL_KINDS)],
};

/** The first symbol field holding a value types.ts does not know, as "path: value", or null. */
export function findUnknownSymbol(type: RecordType, event: unknown): string | null {
  for (const entry of SYMBOL_FIELDS[type]) {
    let value: unknown = event;
    for (const key of entry.path) {
      if (value === null || typeof value !== 'object') {
        value = undefined;
        break;
      }
      value = (value as Record<string, unknown>)[key];
    }
    if (value === null && entry.nullable) continue;
    if (typeof value !== 'string' || !entry.allowed.has(value)) {
      return `${entry.path.join('.')}: ${JSON.stringify(value) ?? 'undefined'}`;
    }
  }
  return null;
}

export function isRecordType(value: unknown): value is RecordType {
  return typeof value === 'string' && (RECORD_TYPES as readonly string[]).includes(value);
}
