/**
 * Whether a run may apply what it found. Invariant 4: never infer removals from an incomplete
 * read, and stop before disabling more users than the profile's thresholds allow.
 */
export type SafetyInput = {
  readonly mode: 'full' | 'delta';
  /** False when any read of the run errored, hit a limit, met a referral or lost its connection. */
  readonly complete: boolean;
  readonly incompleteReason: string | null;
  /** Users the run read from the directory (full pass: the whole enumeration). */
  readonly usersRead: number;
  /** Users the state knows as present before the run. */
  readonly usersKnown: number;
  /** Users enabled before the run (the base of the percent threshold). */
  readonly enabledBefore: number;
  /** Enabled → disabled transitions the run would make (removals, directory-disabled, scope). */
  readonly disables: number;
  readonly maxDisableCount: number;
  readonly maxDisablePercent: number;
  readonly allowMassDisable: boolean;
};

export type SafetyDecision =
  | { readonly action: 'apply' }
  | { readonly action: 'fail'; readonly reason: string }
  | { readonly action: 'halt'; readonly reason: string };

export function decideRun(input: SafetyInput): SafetyDecision {
  if (!input.complete) {
    return { action: 'fail', reason: `incomplete read: ${input.incompleteReason ?? 'unknown cause'}; nothing removed or disabled` };
  }
  if (input.allowMassDisable) return { action: 'apply' };
  if (input.mode === 'full' && input.usersRead === 0 && input.usersKnown > 0) {
    return {
      action: 'halt',
      reason: `the directory returned no users where ${input.usersKnown} were known (wrong base DN or filter?); nothing applied`,
    };
  }
  const percent = input.enabledBefore > 0 ? (input.disables * 100) / input.enabledBefore : 0;
  if (input.disables > input.maxDisableCount) {
    return {
      action: 'halt',
      reason: `would disable ${input.disables} users, above the limit of ${input.maxDisableCount}; allow with --allow-mass-disable`,
    };
  }
  if (input.disables > 0 && percent > input.maxDisablePercent) {
    return {
      action: 'halt',
      reason: `would disable ${input.disables} of ${input.enabledBefore} enabled users (${percent.toFixed(1)}%), above the limit of ${input.maxDisablePercent}%; allow with --allow-mass-disable`,
    };
  }
  return { action: 'apply' };
}

/** Which mode a run uses: the first run, an explicit request, no delta, or the periodic safety net → full. */
export function chooseMode(input: {
  readonly forceFull: boolean;
  readonly hasDelta: boolean;
  readonly cursor: string | null;
  readonly lastFullAtMs: number | null;
  readonly fullEverySeconds: number;
  readonly nowMs: number;
}): 'full' | 'delta' {
  if (input.forceFull || !input.hasDelta || input.cursor === null || input.lastFullAtMs === null) return 'full';
  return input.nowMs - input.lastFullAtMs >= input.fullEverySeconds * 1000 ? 'full' : 'delta';
}
