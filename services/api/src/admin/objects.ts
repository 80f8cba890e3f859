import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServeContext } from '../context.ts';
import { httpError } from '../http/errors.ts';
import { parseInput } from '../http/input.ts';
import { cursorSchema, decodeCursor, iso, limitSchema, type Page, toPage } from './paging.ts';
import { profileNames } from './runs.ts';

export type ObjectHit = {
  readonly kind: 'user' | 'group';
  readonly profileId: string;
  readonly profileName: string | null;
  readonly externalId: string;
  readonly name: string;
  readonly displayName: string | null;
  readonly dn: string | null;
  readonly email: string | null;
  readonly enabled: boolean;
};

export type GroupRef = { readonly externalId: string; readonly name: string | null };

export type TimelineEntry = {
  readonly id: number;
  readonly runId: string | null;
  readonly runMode: string | null;
  readonly runStartedAt: string | null;
  readonly loggedAt: string | null;
  readonly entity: string;
  /** `membership` rows: this object joined / left `group` (or, for a group, `member` did). */
  readonly op: string;
  readonly changed: readonly string[] | null;
  readonly detail: Readonly<Record<string, unknown>> | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly group: GroupRef | null;
  readonly member: { readonly externalId: string; readonly name: string | null } | null;
};

export type ObjectDetail = {
  readonly kind: 'user' | 'group';
  readonly profileId: string;
  readonly profileName: string | null;
  readonly externalId: string;
  readonly state: Readonly<Record<string, unknown>>;
  readonly directGroups: readonly GroupRef[];
  readonly effectiveGroups: readonly GroupRef[];
  readonly roles: readonly string[];
  /** Groups only: direct members (first 200) and how many there are. */
  readonly members: readonly { readonly externalId: string; readonly type: string; readonly name: string | null }[] | null;
  readonly memberCount: number | null;
  /** Halted runs that would have disabled this user (newest first, at most 20). */
  readonly heldBack: readonly { readonly runId: string; readonly startedAt: string | null; readonly reason: string | null }[];
};

export const searchSchema = z
  .object({
    q: z.string().trim().min(1).max(512),
    profile: z.uuid().optional(),
    limit: limitSchema,
    offset: z.coerce.number().int().min(0).max(100_000).default(0),
  })
  .strict();

const likePrefix = (value: string) => `${value.replace(/[\\%_]/g, (c) => `\\${c}`).toLowerCase()}%`;

/**
 * Finds users and groups by login name or group name (prefix), e-mail, DN, external ID or SID
 * (exact, case-insensitive where the directory is).
 */
export async function searchObjects(
  ctx: ServeContext,
  input: z.infer<typeof searchSchema>,
): Promise<{ items: ObjectHit[]; nextOffset: number | null }> {
  const { q, profile, limit, offset } = input;
  const params: unknown[] = [likePrefix(q), q, limit + 1, offset];
  if (profile !== undefined) params.push(profile);
  const profileClause = profile === undefined ? '' : 'and profile_id = $5::uuid';
  const rows = await ctx.db.query<Record<string, unknown>>(
    `select * from (
       select 'user' as kind, profile_id, external_id, login_name as name, display_name, dn, emails[1] as email, enabled
         from users
        where profile_id is not null ${profileClause}
          and (lower(login_name) like $1 or external_id = $2 or sid = $2 or lower(dn) = lower($2)
               or lower(emails[1]) = lower($2) or $2 = any (emails) or lower(user_principal_name) = lower($2))
       union all
       select 'group', profile_id, external_id, name, description, dn, null, present
         from groups
        where true ${profileClause}
          and (lower(name) like $1 or external_id = $2 or sid = $2 or lower(dn) = lower($2))
     ) hits order by kind desc, lower(name), external_id limit $3 offset $4`,
    params,
  );
  const names = profileNames(ctx);
  const items = rows.slice(0, limit).map((r) => ({
    kind: r.kind as 'user' | 'group',
    profileId: String(r.profile_id),
    profileName: names.get(String(r.profile_id)) ?? null,
    externalId: String(r.external_id),
    name: String(r.name),
    displayName: (r.display_name as string | null) ?? null,
    dn: (r.dn as string | null) ?? null,
    email: (r.email as string | null) ?? null,
    enabled: r.enabled === true,
  }));
  return { items, nextOffset: rows.length > limit ? offset + limit : null };
}

const refs = (rows: readonly { external_id: string; name: string | null }[]): GroupRef[] =>
  rows.map((r) => ({ externalId: r.external_id, name: r.name }));

export async function readObject(ctx: ServeContext, profileId: string, externalId: string): Promise<ObjectDetail | null> {
  const names = profileNames(ctx);
  const users = await ctx.db.query<{ row: Record<string, unknown> }>(
    `select to_jsonb(u) - 'id' - 'last_event_id' as row from users u where profile_id = $1::uuid and external_id = $2`,
    [profileId, externalId],
  );
  const groups =
    users.length > 0
      ? []
      : await ctx.db.query<{ row: Record<string, unknown> }>(
          `select to_jsonb(g) - 'last_event_id' as row from groups g where profile_id = $1::uuid and external_id = $2`,
          [profileId, externalId],
        );
  const state = users[0]?.row ?? groups[0]?.row;
  if (state === undefined) return null;
  const kind = users.length > 0 ? 'user' : 'group';
  const direct = await ctx.db.query<{ external_id: string; name: string | null }>(
    `select m.group_id as external_id, g.name from memberships m
       left join groups g on g.profile_id = m.profile_id and g.external_id = m.group_id
      where m.profile_id = $1::uuid and m.member_id = $2 and m.present order by lower(g.name), m.group_id`,
    [profileId, externalId],
  );
  const effective = await ctx.db.query<{ external_id: string; name: string | null }>(
    `select e.group_id as external_id, g.name from effective_memberships e
       left join groups g on g.profile_id = e.profile_id and g.external_id = e.group_id
      where e.profile_id = $1::uuid and e.member_id = $2 order by lower(g.name), e.group_id`,
    [profileId, externalId],
  );
  const roles =
    kind === 'user'
      ? (
          await ctx.db.query<{ role: string }>(
            'select role from user_effective_roles where profile_id = $1::uuid and external_id = $2 order by role',
            [profileId, externalId],
          )
        ).map((r) => r.role)
      : [];
  let members: ObjectDetail['members'] = null;
  let memberCount: number | null = null;
  if (kind === 'group') {
    const rows = await ctx.db.query<{ member_id: string; member_type: string; name: string | null }>(
      `select m.member_id, m.member_type, coalesce(u.login_name, g.name) as name from memberships m
         left join users u on m.member_type = 'user' and u.profile_id = m.profile_id and u.external_id = m.member_id
         left join groups g on m.member_type = 'group' and g.profile_id = m.profile_id and g.external_id = m.member_id
        where m.profile_id = $1::uuid and m.group_id = $2 and m.present order by lower(coalesce(u.login_name, g.name)), m.member_id limit 200`,
      [profileId, externalId],
    );
    members = rows.map((r) => ({ externalId: r.member_id, type: r.member_type, name: r.name }));
    const count = await ctx.db.query<{ n: string }>(
      'select count(*) as n from memberships where profile_id = $1::uuid and group_id = $2 and present',
      [profileId, externalId],
    );
    memberCount = Number(count[0]?.n ?? 0);
  }
  const heldBack = await ctx.db.query<{ run_id: string; started_at: Date | null; reason: string | null }>(
    `select distinct w.run_id, r.started_at, w.reason from sync_run_would_disable w left join sync_runs r on r.run_id = w.run_id
      where w.profile_id = $1::uuid and w.external_id = $2 order by r.started_at desc nulls last limit 20`,
    [profileId, externalId],
  );
  return {
    kind,
    profileId,
    profileName: names.get(profileId) ?? null,
    heldBack: heldBack.map((h) => ({ runId: h.run_id, startedAt: iso(h.started_at), reason: h.reason })),
    externalId,
    state,
    directGroups: refs(direct),
    effectiveGroups: refs(effective),
    roles,
    members,
    memberCount,
  };
}

/**
 * The object's history across runs, newest first: its own sync log rows and the membership rows
 * that name it as member or as group.
 */
export async function readTimeline(
  ctx: ServeContext,
  profileId: string,
  externalId: string,
  limit: number,
  cursor?: string,
): Promise<Page<TimelineEntry>> {
  const before = decodeCursor(cursor, 1);
  const beforeClause = before === undefined ? '' : 'and l.id < $4';
  const beforeParam = before === undefined ? [] : [before[0]];
  const rows = await ctx.db.query<Record<string, unknown> & { id: string }>(
    `select l.id, l.run_id, l.entity, l.external_id, l.related_id, l.op, l.changed, l.detail, l.error_code, l.error_message,
            l.logged_at, r.mode as run_mode, r.started_at as run_started_at,
            gg.name as group_name, coalesce(mu.login_name, mg.name) as member_name
       from (
         select * from sync_log l where l.profile_id = $1::uuid and l.external_id = $2 ${beforeClause}
         union all
         select * from sync_log l where l.profile_id = $1::uuid and l.related_id = $2 and l.entity = 'membership' ${beforeClause}
       ) l
       left join sync_runs r on r.run_id = l.run_id
       left join groups gg on l.entity = 'membership' and gg.profile_id = l.profile_id and gg.external_id = l.related_id
       left join users mu on l.entity = 'membership' and mu.profile_id = l.profile_id and mu.external_id = l.external_id
       left join groups mg on l.entity = 'membership' and mu.id is null and mg.profile_id = l.profile_id and mg.external_id = l.external_id
      order by l.id desc limit $3`,
    [profileId, externalId, limit + 1, ...beforeParam],
  );
  return toPage(
    rows,
    limit,
    (r) => {
      const isMembership = r.entity === 'membership';
      const asMember = isMembership && r.external_id === externalId;
      return {
        id: Number(r.id),
        runId: (r.run_id as string | null) ?? null,
        runMode: (r.run_mode as string | null) ?? null,
        runStartedAt: iso(r.run_started_at),
        loggedAt: iso(r.logged_at),
        entity: String(r.entity),
        op: String(r.op),
        changed: (r.changed as string[] | null) ?? null,
        detail: (r.detail as Record<string, unknown> | null) ?? null,
        errorCode: (r.error_code as string | null) ?? null,
        errorMessage: (r.error_message as string | null) ?? null,
        group: asMember ? { externalId: String(r.related_id), name: (r.group_name as string | null) ?? null } : null,
        member: isMembership && !asMember ? { externalId: String(r.external_id), name: (r.member_name as string | null) ?? null } : null,
      };
    },
    (r) => [Number(r.id)],
  );
}

const objectParams = z.object({ profile: z.uuid(), externalId: z.string().min(1).max(512) }).strict();

export function registerObjectRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/v1/objects', async (request) => {
    const input = parseInput(searchSchema, request.query, 'query');
    const result = await searchObjects(ctx, input);
    return { objects: result.items, nextOffset: result.nextOffset };
  });

  app.get('/v1/objects/:profile/:externalId', async (request) => {
    const { profile, externalId } = parseInput(objectParams, request.params, 'params');
    const object = await readObject(ctx, profile, externalId);
    if (object === null) throw httpError('HTTP_NOT_FOUND', `no object ${externalId} in profile ${profile}`);
    const timeline = await readTimeline(ctx, profile, externalId, 50);
    return { object, timeline: timeline.items, timelineNextCursor: timeline.nextCursor };
  });

  app.get('/v1/objects/:profile/:externalId/timeline', async (request) => {
    const { profile, externalId } = parseInput(objectParams, request.params, 'params');
    const { limit, cursor } = parseInput(z.object({ limit: limitSchema, cursor: cursorSchema }).strict(), request.query, 'query');
    const page = await readTimeline(ctx, profile, externalId, limit, cursor);
    return { timeline: page.items, nextCursor: page.nextCursor };
  });
}
