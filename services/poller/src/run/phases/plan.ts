import { type ProfileConfig, resolveDeltaMechanism, resolveUserMapping } from '@dirstream/config';
import { errorCode } from '@dirstream/errors';
import type { SyncMode } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { chooseMode } from '../../core/safety.ts';
import type { DirectoryConnection } from '../../directory/client.ts';
import type { DeltaChanges, DeltaKind, DeltaSource, Dialect } from '../../directory/dialect.ts';
import type { ProfileState } from '../../state/store.ts';
import { fitDelta } from '../fit-delta.ts';

/** Above this many changed entries a delta run becomes a full pass. */
const DELTA_LIMIT = 20_000;

/** How this pass reads: full or delta, with which mechanism, and from which cursor. */
export type PassPlan = {
  readonly mode: SyncMode;
  readonly deltaKind: DeltaKind;
  /** What a delta read found changed (null in a full pass). */
  readonly changes: DeltaChanges | null;
  /** The cursor a succeeded full pass leaves (taken before reading). */
  readonly fullCursor: string | null;
  /** Said in the run's reason when `auto` fell back below the directory type's best mechanism. */
  readonly note: string | null;
};

export type PlanInput = {
  readonly profile: ProfileConfig;
  readonly dialect: Dialect;
  readonly previous: ProfileState | null;
  readonly full: boolean;
  readonly startedAt: number;
};

function deltaSource(input: PlanInput, kind: DeltaKind): DeltaSource | null {
  const { profile } = input;
  const mapping = resolveUserMapping(profile);
  return kind === 'none'
    ? null
    : input.dialect.createDelta(kind, {
        usersBaseDn: profile.users.baseDn,
        groupsBaseDn: profile.groups?.baseDn ?? null,
        idAttribute: mapping.externalId,
        modifiedAttribute: mapping.modified,
      });
}

function modeFor(input: PlanInput, kind: DeltaKind, delta: DeltaSource | null): SyncMode {
  const { previous } = input;
  return chooseMode({
    forceFull: input.full || (previous !== null && previous.cursorKind !== kind),
    hasDelta: delta !== null,
    cursor: previous?.cursor ?? null,
    lastFullAtMs: previous?.lastFullAtMs ?? null,
    fullEverySeconds: input.profile.schedule.fullEverySeconds,
    nowMs: input.startedAt,
  });
}

/** The plan before the server is asked (what a run that cannot connect reports). */
export function configuredPlan(input: PlanInput): PassPlan {
  const kind = resolveDeltaMechanism(input.profile) as DeltaKind;
  return { mode: modeFor(input, kind, deltaSource(input, kind)), deltaKind: kind, changes: null, fullCursor: null, note: null };
}

/** The mechanism the server offers (probed): a change of mechanism makes this pass full. */
export async function fitPlan(input: PlanInput, conn: DirectoryConnection, logger: Logger): Promise<PassPlan> {
  const configured = configuredPlan(input);
  const fitted = await fitDelta(input.profile, conn);
  logger.info({ delta: fitted.kind, why: fitted.why, cannotSee: fitted.cannotSee }, `delta mechanism: ${fitted.kind}`);
  const note = fitted.fallback ? `delta ${fitted.kind} (${fitted.why}); until the next full pass it cannot see ${fitted.cannotSee}` : null;
  if (fitted.kind === configured.deltaKind) return { ...configured, note };
  const deltaKind = fitted.kind as DeltaKind;
  return { ...configured, mode: modeFor(input, deltaKind, deltaSource(input, deltaKind)), deltaKind, note };
}

/** The delta's changes, or a full pass when the delta is too large or its cursor belongs elsewhere; a full pass's cursor. */
export async function readChanges(input: PlanInput, plan: PassPlan, conn: DirectoryConnection, logger: Logger): Promise<PassPlan> {
  const { profile } = input;
  const delta = deltaSource(input, plan.deltaKind);
  const cursorBefore = input.previous?.cursor ?? null;
  let mode = plan.mode;
  let changes: DeltaChanges | null = null;
  if (mode === 'delta' && delta && cursorBefore !== null) {
    try {
      changes = await delta.changesSince(conn, cursorBefore, profile.schedule.overlapSeconds, DELTA_LIMIT);
    } catch (cause) {
      const code = errorCode(cause);
      // DELTA_CURSOR_INVALID: the cursor belongs to another server (AD: another or restored DC).
      if (code !== 'DELTA_TOO_LARGE' && code !== 'DELTA_CURSOR_INVALID') throw cause;
      logger.info(
        { err: cause },
        code === 'DELTA_TOO_LARGE' ? 'delta too large, running a full pass' : 'delta cursor not valid here, running a full pass',
      );
      mode = 'full';
    }
  }
  const fullCursor = mode === 'full' && delta ? await delta.startCursor(conn, input.startedAt, profile.schedule.overlapSeconds) : null;
  return { ...plan, mode, changes, fullCursor };
}
