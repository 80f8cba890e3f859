import { nextVersion } from '@dirstream/events';
import { decideRoleBindings, namesByGroup } from '../../core/role-bindings.ts';
import type { GroupChange } from '../../core/types.ts';
import type { RoleBindingStore } from '../../state/role-bindings.ts';
import type { RunContext } from '../context.ts';

/** Group events announce at most this many binding changes each. */
const PAGE = 500;

export type RunRoleBindings = ReturnType<typeof createRunRoleBindings>;

/**
 * A run's view of the role bindings (core/role-bindings.ts has the rule): loaded when the run
 * starts, so every group event of the run carries its group's bound names; decided again at the
 * end of a successful pass, which announces each group whose names changed with a group event of
 * its own (a new version, the stored state, `changed: ['roleBindings']`).
 */
export function createRunRoleBindings(store: RoleBindingStore, dryRun: boolean) {
  let byGroup = new Map<string, string[]>();
  let bound = new Map<string, string>();
  return {
    async load(): Promise<void> {
      bound = await store.load();
      byGroup = namesByGroup(bound);
    },
    /** The names a group event carries: none on a removed group (a binding never outlives its group). */
    namesOf(groupId: string, present: boolean): readonly string[] {
      return present ? (byGroup.get(groupId) ?? []) : [];
    },
    async decide(ctx: RunContext): Promise<void> {
      const names = await store.keysOf(Object.keys(ctx.profile.policies.groupRoles));
      if (names.length === 0 && bound.size === 0) return;
      // Every group event of the pass is acknowledged and in the state before deciding on it.
      await ctx.delivery.flush();
      const present = await store.presentGroups([...bound.values()]);
      const open = names.filter((name) => !present.has(bound.get(name) ?? ''));
      const decision = decideRoleBindings({ names, bound, present, carriers: await store.carriers(open) });
      for (const a of decision.ambiguous) {
        ctx.logger.warn(
          { group: a.name, groups: a.groups.length, groupIds: a.groups.slice(0, 10) },
          `policies.groupRoles: the group name ${a.name} names ${a.groups.length} groups; it grants nothing until one group carries that name (rename or remove the others)`,
        );
      }
      bound = new Map(decision.bound);
      byGroup = namesByGroup(bound);
      const changed = [...decision.changed.keys()];
      for (let i = 0; i < changed.length; i += PAGE) {
        const groups = await ctx.store.loadGroups(changed.slice(i, i + PAGE));
        const t = ctx.now();
        const out: GroupChange[] = [];
        for (const g of groups.values()) {
          // A removed group's last event already carried no names.
          if (!g.present || !g.state.present) continue;
          out.push({
            op: 'updated',
            externalId: g.externalId,
            version: nextVersion(g.version, t),
            state: g.state,
            changed: ['roleBindings'],
            rename: null,
            hash: g.hash,
          });
        }
        await ctx.delivery.queue({ groups: out });
      }
      await ctx.delivery.flush();
      if (!dryRun) await store.save(bound, ctx.runId);
      if (decision.changed.size > 0) {
        ctx.logger.info(
          { bindings: Object.fromEntries(bound), changedGroups: decision.changed.size },
          'policies.groupRoles: role bindings changed',
        );
      }
    },
  };
}
