import type { AdminCaller } from '../auth.ts';
import type { DeadLetters } from '../dead-letters.ts';
import type { Lag } from '../lag.ts';
import type { ObjectDetail, ObjectHit, TimelineEntry } from '../objects.ts';
import type { Page } from '../paging.ts';
import type { ProfileView } from '../profiles.ts';
import type { HaltReport, RunChange, RunError, RunFilter, RunSummary } from '../runs.ts';
import { type Html, html } from './html.ts';

/**
 * The console's views: plain functions from the API's data to HTML fragments. The shell's script
 * loads them with the bearer token and puts them in place; links are `#/…` routes of the shell.
 */

const time = (value: string | null | undefined): Html =>
  value ? html`<time datetime="${value}">${value}</time>` : html`<span class="muted">—</span>`;

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

const badge = (status: string | null | undefined): Html => {
  const label = status ?? 'unknown';
  return html`<span class="badge badge-${label}">${label.replace('-', ' ')}</span>`;
};

const enc = encodeURIComponent;
const runLink = (runId: string, label?: string) => html`<a href="#/runs/${enc(runId)}" class="mono">${label ?? runId}</a>`;
const objectLink = (profileId: string, externalId: string, label: string | null) =>
  html`<a href="#/objects/${enc(profileId)}/${enc(externalId)}">${label ?? externalId}</a>`;

const COUNT_LABELS: readonly (readonly [string, string])[] = [
  ['created', 'created'],
  ['updated', 'updated'],
  ['renamed', 'renamed'],
  ['moved', 'moved'],
  ['disabled', 'disabled'],
  ['enabled', 'enabled'],
  ['membershipsAdded', 'member +'],
  ['membershipsRemoved', 'member −'],
  ['errors', 'errors'],
];

function counts(c: Readonly<Record<string, number>>): Html {
  const shown = COUNT_LABELS.filter(([key]) => (c[key] ?? 0) > 0);
  if (shown.length === 0) return html`<span class="muted">no changes</span>`;
  return html`${shown.map(([key, label]) => html`<span class="count${key === 'errors' ? ' count-errors' : ''}">${label} <b>${c[key]}</b></span> `)}`;
}

export function profilesView(profiles: readonly ProfileView[], caller: AdminCaller): Html {
  if (profiles.length === 0) return html`<h1>Profiles</h1><p class="empty">No profile is configured.</p>`;
  const operator = caller.role === 'operator';
  return html`<h1>Profiles</h1>
<div class="cards" data-refresh="10000">
${profiles.map(
  (p) => html`<section class="card" data-profile="${p.id}">
  <header><h2>${p.name}</h2>${badge(p.badge)}</header>
  <dl class="facts">
    <dt>Directory</dt><dd>${p.directory} · ${(p.config.connection as { urls?: string[] } | undefined)?.urls?.join(', ') ?? ''}</dd>
    <dt>Last run</dt><dd>${
      p.lastRun === null
        ? html`<span class="muted">none yet</span>`
        : html`${runLink(p.lastRun.runId, `${p.lastRun.mode} · ${p.lastRun.status}`)} ${time(p.lastRun.startedAt)} · ${formatDuration(p.lastRun.durationMs)}<br>${counts(p.lastRun.counts)}`
    }</dd>
    ${p.lastRun?.reason ? html`<dt>Reason</dt><dd class="reason">${p.lastRun.reason}</dd>` : ''}
    <dt>Last success</dt><dd>${time(p.lastSuccessAt)}</dd>
    <dt>Next run</dt><dd>${p.currentRun ? html`running now: ${runLink(p.currentRun.runId)}` : time(p.nextRunAt)}${p.pendingRun ? html` · requested: ${runLink(p.pendingRun.runId)}` : ''}</dd>
    <dt>Delta</dt><dd>${p.delta.configured}${p.delta.mechanism ? html` → <b>${p.delta.mechanism}</b>` : ''} <span class="mono small">${p.delta.cursor ?? ''}</span></dd>
    <dt>Poller</dt><dd>${p.lock ? html`${p.lock.host} pid ${p.lock.pid} (${p.lock.mode}) since ${time(p.lock.since)}` : html`<span class="warn">no poller holds this profile</span>`}</dd>
  </dl>
  <footer>
    <a href="#/runs?profile=${enc(p.id)}">Run history</a>
    ${
      operator
        ? html`<button type="button" class="sync" data-sync="${p.id}" data-full="false">Sync now</button>
    <button type="button" class="sync secondary" data-sync="${p.id}" data-full="true">Full sync</button>`
        : ''
    }
  </footer>
  <details><summary>Configuration (secrets masked)</summary><pre>${JSON.stringify(p.config, null, 2)}</pre></details>
</section>`,
)}
</div>`;
}

export function runsView(page: Page<RunSummary>, filter: RunFilter, profiles: readonly { id: string; name: string }[]): Html {
  const qs = (extra: Record<string, string | undefined>) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ profile: filter.profile, status: filter.status, mode: filter.mode, ...extra }))
      if (v) params.set(k, v);
    return params.toString();
  };
  const option = (value: string, current: string | undefined, label = value) =>
    html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;
  return html`<h1>Runs</h1>
<form class="filters" data-route="/runs">
  <label>Profile <select name="profile"><option value="">all</option>${profiles.map((p) => option(p.id, filter.profile, p.name))}</select></label>
  <label>Status <select name="status"><option value="">all</option>${['succeeded', 'failed', 'halted'].map((s) => option(s, filter.status))}</select></label>
  <label>Mode <select name="mode"><option value="">all</option>${['full', 'delta'].map((s) => option(s, filter.mode))}</select></label>
  <button type="submit">Filter</button>
</form>
${
  page.items.length === 0
    ? html`<p class="empty">No run matches.</p>`
    : html`<table class="runs" data-refresh="10000">
  <thead><tr><th>Started</th><th>Profile</th><th>Mode</th><th>Status</th><th>Duration</th><th>Changes</th><th>Run</th></tr></thead>
  <tbody>${page.items.map(
    (r) => html`<tr data-run="${r.runId}">
    <td>${time(r.startedAt)}</td><td>${r.profileName ?? r.profileId}</td><td>${r.mode}</td><td>${badge(r.status)}</td>
    <td class="num">${formatDuration(r.durationMs)}</td><td>${counts(r.counts)}${r.reason ? html`<div class="reason">${r.reason}</div>` : ''}</td>
    <td>${runLink(r.runId, r.runId.slice(0, 8))}</td></tr>`,
  )}</tbody></table>`
}
${page.nextCursor ? html`<p><a class="more" href="#/runs?${qs({ cursor: page.nextCursor })}">Older runs →</a></p>` : ''}`;
}

export type RunDetailData = {
  readonly run: RunSummary | null;
  readonly request: {
    readonly runId: string;
    readonly phase: string;
    readonly requestedAt: string | null;
    readonly requestedBy: string | null;
    readonly startedAt: string | null;
    readonly full: boolean;
  } | null;
  readonly errors: Page<RunError>;
  readonly errorCount: number;
  readonly changes: Page<RunChange>;
  readonly haltReport: HaltReport | null;
};

function changeText(
  entity: string,
  op: string,
  c: {
    changed: readonly string[] | null;
    detail: Readonly<Record<string, unknown>> | null;
    relatedId?: string | null;
    relatedName?: string | null;
  },
  profileId = '',
): Html {
  const d = c.detail ?? {};
  if (entity === 'membership')
    return html`<b>${op === 'added' ? 'joined' : 'left'}</b> group ${c.relatedId ? objectLink(profileId, c.relatedId, c.relatedName ?? null) : ''}`;
  const parts: Html[] = [html`<b>${op}</b>`];
  if (typeof d.previousDn === 'string')
    parts.push(html` <span class="mono small">${d.previousDn}</span> → <span class="mono small">${String(d.dn ?? '')}</span>`);
  if (typeof d.disabledReason === 'string') parts.push(html` (${d.disabledReason})`);
  if (c.changed && c.changed.length > 0 && op !== 'created') parts.push(html` <span class="muted">${c.changed.join(', ')}</span>`);
  return html`${parts}`;
}

export function runDetailView(data: RunDetailData, profileId: string | null): Html {
  const { run, request } = data;
  if (run === null) {
    return html`<h1>Run <span class="mono">${request?.runId ?? ''}</span></h1>
<div class="card" data-refresh="2000"><p>${badge(request?.phase ?? 'pending')} ${request?.full ? 'full' : 'delta or scheduled'} run requested by ${request?.requestedBy ?? '—'} ${time(request?.requestedAt)}${
      request?.startedAt ? html`, started ${time(request.startedAt)}` : ''
    }.</p><p class="muted">This page refreshes until the applier has recorded the run.</p></div>`;
  }
  const pid = profileId ?? run.profileId;
  return html`<h1>Run <span class="mono">${run.runId}</span></h1>
<section class="card">
  <header><h2>${run.profileName ?? run.profileId} · ${run.mode}</h2>${badge(run.status)}</header>
  <dl class="facts">
    <dt>Started</dt><dd>${time(run.startedAt)}</dd>
    <dt>Finished</dt><dd>${time(run.finishedAt)} (${formatDuration(run.durationMs)})</dd>
    ${run.reason ? html`<dt>Reason</dt><dd class="reason">${run.reason}</dd>` : ''}
    <dt>Changes</dt><dd>${counts(run.counts)} <span class="muted">entries read ${run.counts.entriesRead ?? 0}</span></dd>
    <dt>Cursor</dt><dd class="mono small">${run.cursorBefore ?? '—'} → ${run.cursorAfter ?? '—'}</dd>
    ${
      run.phases
        ? html`<dt>Phases</dt><dd>${Object.entries(run.phases).map(([name, ms]) => html`<span class="count">${name} <b>${formatDuration(ms)}</b></span> `)}</dd>`
        : ''
    }
  </dl>
</section>
${
  data.haltReport
    ? html`<section class="card halt"><h2>Halt report</h2><p>${data.haltReport.reason ?? ''}</p>
  ${
    data.haltReport.total > 0
      ? html`<p>It would have disabled <b>${data.haltReport.total}</b> user${data.haltReport.total === 1 ? '' : 's'}; nothing was applied.</p>
  <table class="would-disable"><thead><tr><th>User</th><th>DN</th><th>Reason</th></tr></thead><tbody>${data.haltReport.wouldDisable.map(
    (u) =>
      html`<tr><td>${objectLink(pid, u.externalId, u.loginName)}</td><td class="mono small">${u.dn ?? ''}</td><td>${u.reason ?? ''}</td></tr>`,
  )}</tbody></table>${data.haltReport.nextCursor ? html`<p class="muted">All of them: <span class="mono">GET /v1/runs/${run.runId}/would-disable</span></p>` : ''}`
      : ''
  }</section>`
    : ''
}
<h2>Errors ${data.errorCount > 0 ? html`<span class="count count-errors">${data.errorCount}</span>` : ''}</h2>
${
  data.errors.items.length === 0
    ? html`<p class="empty">No error in this run.</p>`
    : html`<table class="errors"><thead><tr><th>Where</th><th>Entry</th><th>Code</th><th>Message</th></tr></thead><tbody>${data.errors.items.map(
        (e) =>
          html`<tr><td>${e.source}</td><td>${e.externalId ? objectLink(pid, e.externalId, e.externalId) : html`<span class="mono small">${e.dn ?? '—'}</span>`}</td><td class="mono">${e.code}</td><td>${e.message}</td></tr>`,
      )}</tbody></table>${
        data.errors.items.length < data.errorCount
          ? html`<p>Showing ${data.errors.items.length} of ${data.errorCount}. <a class="more" href="#/runs/${enc(run.runId)}?errors=all">Show all errors</a>${
              data.errorCount > 1000
                ? html` <span class="muted">(the first 1000; <span class="mono">GET /v1/runs/${run.runId}/errors</span> pages through every one)</span>`
                : ''
            }</p>`
          : ''
      }`
}
<h2>Objects changed</h2>
${
  data.changes.items.length === 0
    ? html`<p class="empty">This run changed no object.</p>`
    : html`<table class="changes"><thead><tr><th>Object</th><th>Kind</th><th>What</th></tr></thead><tbody>${data.changes.items.map(
        (c) =>
          html`<tr><td>${objectLink(pid, c.externalId, c.name)}</td><td>${c.entity}</td><td>${changeText(c.entity, c.op, c, pid)}</td></tr>`,
      )}</tbody></table>${data.changes.nextCursor ? html`<p class="muted">Showing the last ${data.changes.items.length}; <span class="mono">GET /v1/runs/${run.runId}/changes</span> pages all.</p>` : ''}`
}`;
}

export function searchView(q: string, hits: readonly ObjectHit[] | null, nextOffset: number | null): Html {
  return html`<h1>Objects</h1>
<form class="search" data-route="/objects">
  <input type="search" name="q" value="${q}" placeholder="login, e-mail, DN, external ID or SID" aria-label="Search objects" autofocus>
  <button type="submit">Search</button>
</form>
${
  hits === null
    ? html`<p class="muted">Find a user or group by login name or group name (prefix), e-mail, DN, external ID or SID.</p>`
    : hits.length === 0
      ? html`<p class="empty">Nothing matches “${q}”.</p>`
      : html`<table class="hits"><thead><tr><th>Name</th><th>Kind</th><th>Profile</th><th>Display name</th><th>E-mail</th><th>DN</th><th>State</th></tr></thead><tbody>${hits.map(
          (h) =>
            html`<tr><td>${objectLink(h.profileId, h.externalId, h.name)}</td><td>${h.kind}</td><td>${h.profileName ?? h.profileId}</td><td>${h.displayName ?? ''}</td><td>${h.email ?? ''}</td><td class="mono small">${h.dn ?? ''}</td><td>${badge(h.enabled ? (h.kind === 'user' ? 'enabled' : 'present') : h.kind === 'user' ? 'disabled' : 'removed')}</td></tr>`,
        )}</tbody></table>${nextOffset !== null ? html`<p class="muted">More matches: refine the search.</p>` : ''}`
}`;
}

const SHOWN_FIELDS = [
  'login_name',
  'display_name',
  'given_name',
  'surname',
  'emails',
  'user_principal_name',
  'name',
  'description',
  'dn',
  'sid',
  'external_id',
  'enabled',
  'disabled_reason',
  'present',
  'source',
  'linked_at',
  'title',
  'company',
  'phone',
  'version',
  'created_at',
  'updated_at',
];

function timelineText(e: TimelineEntry, profileId: string): Html {
  if (e.errorCode) return html`<span class="count count-errors">${e.errorCode}</span> ${e.errorMessage ?? ''}`;
  if (e.entity === 'membership') {
    if (e.group)
      return html`<b>${e.op === 'added' ? 'joined' : 'left'}</b> group ${objectLink(profileId, e.group.externalId, e.group.name)}`;
    if (e.member) return html`member ${objectLink(profileId, e.member.externalId, e.member.name)} <b>${e.op}</b>`;
  }
  return changeText(e.entity, e.op, { changed: e.changed, detail: e.detail });
}

export function objectView(object: ObjectDetail, timeline: Page<TimelineEntry>): Html {
  const s = object.state;
  const title = String(s.login_name ?? s.name ?? object.externalId);
  const enabled = object.kind === 'user' ? s.enabled === true : s.present === true;
  const groupList = (groups: readonly { externalId: string; name: string | null }[]) =>
    groups.length === 0
      ? html`<span class="muted">none</span>`
      : html`${groups.map((g) => html`${objectLink(object.profileId, g.externalId, g.name)} `)}`;
  return html`<h1>${object.kind === 'user' ? 'User' : 'Group'} ${title}</h1>
<section class="card">
  <header><h2>${String(s.display_name ?? s.description ?? '')}</h2>${badge(object.kind === 'user' ? (enabled ? 'enabled' : 'disabled') : enabled ? 'present' : 'removed')}</header>
  <dl class="facts">
    <dt>Profile</dt><dd>${object.profileName ?? object.profileId}</dd>
    ${SHOWN_FIELDS.filter((f) => s[f] !== undefined && s[f] !== null && !(Array.isArray(s[f]) && (s[f] as unknown[]).length === 0)).map(
      (f) =>
        html`<dt>${f.replaceAll('_', ' ')}</dt><dd class="${f === 'dn' || f === 'external_id' || f === 'sid' ? 'mono small' : ''}">${Array.isArray(s[f]) ? (s[f] as unknown[]).join(', ') : f.endsWith('_at') ? time(String(s[f])) : String(s[f])}</dd>`,
    )}
    ${s.attributes && Object.keys(s.attributes as object).length > 0 ? html`<dt>attributes</dt><dd class="mono small">${JSON.stringify(s.attributes)}</dd>` : ''}
    <dt>Direct groups</dt><dd>${groupList(object.directGroups)}</dd>
    <dt>Effective groups</dt><dd>${groupList(object.effectiveGroups)}</dd>
    ${object.kind === 'user' ? html`<dt>Roles</dt><dd>${object.roles.length === 0 ? html`<span class="muted">none</span>` : object.roles.map((r) => html`<span class="count">${r}</span> `)}</dd>` : ''}
    ${object.members ? html`<dt>Members (${object.memberCount ?? 0})</dt><dd>${object.members.map((m) => html`${objectLink(object.profileId, m.externalId, m.name)} `)}</dd>` : ''}
  </dl>
</section>
${
  object.heldBack.length > 0
    ? html`<section class="card halt"><h2>Held back by halted runs</h2><p>${object.heldBack.map(
        (h) =>
          html`${runLink(h.runId, h.runId.slice(0, 8))} ${time(h.startedAt)} would have disabled this user (${h.reason ?? ''}); nothing was applied.<br>`,
      )}</p></section>`
    : ''
}
<h2>Timeline</h2>
${
  timeline.items.length === 0
    ? html`<p class="empty">No change logged for this object.</p>`
    : html`<table class="timeline"><thead><tr><th>When</th><th>Run</th><th>What</th></tr></thead><tbody>${timeline.items.map(
        (e) =>
          html`<tr class="op-${e.op}"><td>${time(e.loggedAt)}</td><td>${e.runId ? runLink(e.runId, `${e.runMode ?? ''} ${e.runId.slice(0, 8)}`) : '—'}</td><td>${timelineText(e, object.profileId)}</td></tr>`,
      )}</tbody></table>${timeline.nextCursor ? html`<p class="muted">Older entries: <span class="mono">GET /v1/objects/${object.profileId}/${object.externalId}/timeline?cursor=${timeline.nextCursor}</span></p>` : ''}`
}`;
}

export function deadLettersView(data: DeadLetters): Html {
  return html`<h1>Dead letters</h1>
<p>Topic <span class="mono">${data.topic}</span>: ${data.total === 0 ? html`<b>empty</b>` : html`<b>${data.total}</b> record${data.total === 1 ? '' : 's'}${data.total > data.items.length ? html`, the newest ${data.items.length} shown` : ''}`}.</p>
${
  data.items.length === 0
    ? html`<p class="empty">Nothing was dead-lettered.</p>`
    : html`<table class="dead-letters"><thead><tr><th>Failed</th><th>Code</th><th>Reason</th><th>Source</th><th>Key</th><th>Attempts</th></tr></thead><tbody>${data.items.map(
        (d) =>
          html`<tr><td>${time(d.failedAt)}</td><td class="mono">${d.code}</td><td>${d.reason}</td><td class="mono small">${d.sourceTopic} [${d.sourcePartition}] @${d.sourceOffset}</td><td class="mono small">${d.key ?? '—'}</td><td class="num">${d.attempts}</td></tr>`,
      )}</tbody></table>`
}`;
}

export function activityView(lag: Lag | null, lagError: string | null): Html {
  return html`<h1>Activity</h1>
<div class="charts" data-charts="6">
  <figure><figcaption>Run durations (s), last 6 h</figcaption><div class="chart" id="chart-runs"></div></figure>
  <figure><figcaption>Changes applied per minute</figcaption><div class="chart" id="chart-applied"></div></figure>
  <figure><figcaption>Applier lag (records) and outbox backlog, sampled by this console</figcaption><div class="chart" id="chart-lag"></div></figure>
</div>
<h2>Lag now</h2>
${
  lag === null
    ? html`<p class="warn">Lag could not be measured: ${lagError ?? ''}</p>`
    : html`<p>Consumer group <span class="mono">${lag.groupId}</span>: <b>${lag.total}</b> records behind · outbox backlog <b>${lag.outboxBacklog}</b> · ${time(lag.measuredAt)}</p>
<table class="lag"><thead><tr><th>Topic</th><th>Partition</th><th>Committed</th><th>High watermark</th><th>Lag</th></tr></thead><tbody>${lag.partitions.map(
        (p) =>
          html`<tr><td class="mono">${p.topic}</td><td class="num">${p.partition}</td><td class="num">${p.committed ?? '—'}</td><td class="num">${p.high}</td><td class="num${p.lag > 0 ? ' warn' : ''}">${p.lag}</td></tr>`,
      )}</tbody></table>`
}`;
}
