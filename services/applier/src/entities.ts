import { defineEntity, p } from '@mikro-orm/core';

/**
 * Entity metadata for the applier's tables, for applications and tests that read them through
 * MikroORM. The schema itself lives in the hand-written migrations; the hot apply path writes with
 * set-based SQL, not through the unit of work.
 */

export const SyncProfile = defineEntity({
  name: 'SyncProfile',
  tableName: 'sync_profiles',
  properties: {
    id: p.uuid().primary(),
    name: p.text(),
    directoryType: p.text(),
    conflictPolicy: p.text(),
    updatedAt: p.datetime(),
  },
});

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    profileId: p.uuid().nullable(),
    externalId: p.text().nullable(),
    source: p.text(),
    loginName: p.text(),
    userPrincipalName: p.text().nullable(),
    displayName: p.text(),
    givenName: p.text().nullable(),
    surname: p.text().nullable(),
    emails: p.array(),
    phone: p.text().nullable(),
    title: p.text().nullable(),
    company: p.text().nullable(),
    dn: p.text().nullable(),
    sid: p.text().nullable(),
    enabled: p.boolean(),
    disabledReason: p.text().nullable(),
    version: p.bigint('number'),
    lastEventId: p.text().nullable(),
    attributes: p.json<Record<string, string[]>>(),
    linkedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});

export const Group = defineEntity({
  name: 'Group',
  tableName: 'groups',
  properties: {
    profileId: p.uuid().primary(),
    externalId: p.text().primary(),
    name: p.text(),
    description: p.text().nullable(),
    dn: p.text(),
    sid: p.text().nullable(),
    present: p.boolean(),
    version: p.bigint('number'),
    lastEventId: p.text().nullable(),
    attributes: p.json<Record<string, string[]>>(),
    /** The policies.groupRoles names (lower-cased) the group's last event bound to it. */
    roleBindings: p.array().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});

export const Membership = defineEntity({
  name: 'Membership',
  tableName: 'memberships',
  properties: {
    profileId: p.uuid().primary(),
    groupId: p.text().primary(),
    memberId: p.text().primary(),
    memberType: p.text(),
    present: p.boolean(),
    version: p.bigint('number'),
    updatedAt: p.datetime(),
  },
});

export const AppRole = defineEntity({
  name: 'AppRole',
  tableName: 'app_roles',
  properties: { name: p.text().primary() },
});

export const GroupRole = defineEntity({
  name: 'GroupRole',
  tableName: 'group_roles',
  properties: {
    profileId: p.uuid().primary(),
    groupName: p.text().primary(),
    role: p.text().primary(),
  },
});

export const SyncRun = defineEntity({
  name: 'SyncRun',
  tableName: 'sync_runs',
  properties: {
    runId: p.text().primary(),
    profileId: p.uuid(),
    directoryType: p.text(),
    mode: p.text(),
    status: p.text(),
    reason: p.text().nullable(),
    startedAt: p.datetime(),
    finishedAt: p.datetime(),
    counts: p.json<Record<string, number>>(),
    errors: p.json<unknown[]>(),
    cursorBefore: p.text().nullable(),
    cursorAfter: p.text().nullable(),
    eventId: p.text(),
  },
});

export const SyncLogEntry = defineEntity({
  name: 'SyncLogEntry',
  tableName: 'sync_log',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.text().nullable(),
    profileId: p.uuid().nullable(),
    entity: p.text(),
    externalId: p.text(),
    op: p.text(),
    version: p.bigint('number'),
    changed: p.json<string[]>().nullable(),
    errorCode: p.text().nullable(),
    errorMessage: p.text().nullable(),
    loggedAt: p.datetime(),
  },
});

export const OutboxEntry = defineEntity({
  name: 'OutboxEntry',
  tableName: 'outbox',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    eventId: p.text().unique(),
    type: p.text(),
    profileId: p.uuid(),
    externalId: p.text(),
    recordKey: p.text(),
    payload: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    publishedAt: p.datetime().nullable(),
  },
});

export const ENTITIES = [SyncProfile, User, Group, Membership, AppRole, GroupRole, SyncRun, SyncLogEntry, OutboxEntry] as const;
