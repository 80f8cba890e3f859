/**
 * Group → role bindings, decided once per pass from the poller's state after the pass (DESIGN
 * invariant 9: grants follow the group's identity). The poller reads one ordered stream per
 * profile, so the decision does not depend on how the applier's partitions interleave, and it
 * travels with the group events, so a replay of the topics rebuilds it (invariant 2).
 *
 * The rule, for each configured name (lower-cased), in this order:
 * 1. a name bound to a group still present stays with it, whatever that group is called now;
 * 2. a binding whose group is gone (removed in this pass or before) is released;
 * 3. an unbound name binds to the one present group carrying it (case-insensitive); carried by
 *    several, it stays unbound (ambiguous) until one remains; carried by none, unbound.
 * A name no longer configured is released. No I/O: the caller passes what the state holds.
 */
export type RoleBindingInput = {
  /** The configured names, lower-cased. */
  readonly names: readonly string[];
  /** name → group ID, as bound before this pass. */
  readonly bound: ReadonlyMap<string, string>;
  /** Which of the bound groups are present after this pass. */
  readonly present: ReadonlySet<string>;
  /** name → the present groups carrying it after this pass (asked for the names not kept by rule 1). */
  readonly carriers: ReadonlyMap<string, readonly string[]>;
};

export type RoleBindingDecision = {
  /** name → group ID after this pass. */
  readonly bound: ReadonlyMap<string, string>;
  /** Names carried by several present groups and bound to none. */
  readonly ambiguous: readonly { readonly name: string; readonly groups: readonly string[] }[];
  /** Groups whose bound names changed, with the names they have now (sorted; empty when released). */
  readonly changed: ReadonlyMap<string, readonly string[]>;
};

export function decideRoleBindings(input: RoleBindingInput): RoleBindingDecision {
  const bound = new Map<string, string>();
  const ambiguous: { name: string; groups: readonly string[] }[] = [];
  for (const name of [...new Set(input.names)].sort()) {
    const kept = input.bound.get(name);
    if (kept !== undefined && input.present.has(kept)) {
      bound.set(name, kept);
      continue;
    }
    const carriers = [...new Set(input.carriers.get(name) ?? [])].sort();
    if (carriers.length === 1) bound.set(name, carriers[0] as string);
    else if (carriers.length > 1) ambiguous.push({ name, groups: carriers });
  }
  const before = namesByGroup(input.bound);
  const after = namesByGroup(bound);
  const changed = new Map<string, readonly string[]>();
  for (const groupId of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const was = before.get(groupId) ?? [];
    const now = after.get(groupId) ?? [];
    if (was.join('\u0000') !== now.join('\u0000')) changed.set(groupId, now);
  }
  return { bound, ambiguous, changed };
}

/** group ID → its bound names, sorted (the form the group events carry). */
export function namesByGroup(bound: ReadonlyMap<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, groupId] of bound) out.set(groupId, [...(out.get(groupId) ?? []), name]);
  for (const names of out.values()) names.sort();
  return out;
}
