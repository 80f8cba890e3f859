import type { ProfileConfig } from '@dirstream/config';
import type { ProfileStatus } from '@dirstream/poller';

/** A duration for people: 850 ms, 12.3 s, 4m 05s, 2h 10m, 3d 4h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1_000).toFixed(1)} s`;
  const s = Math.floor(abs / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3_600)}h`;
}

function ago(at: number, now: number): string {
  return at > now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/**
 * `dirstream status`: one line per configured profile, from what the pollers recorded (their
 * state schema), so it works without the applier. Columns are padded to the widest cell.
 */
export function formatStatusTable(profiles: readonly ProfileConfig[], states: readonly ProfileStatus[], now: number): string {
  const byId = new Map(states.map((s) => [s.profileId, s]));
  const header = [
    'PROFILE',
    'LAST RUN',
    'MODE',
    'READ',
    'CHANGED',
    'DISABLED',
    'ERRORS',
    'DURATION',
    'ENDED',
    'NEXT RUN',
    'LOCK HOLDER',
    'CURSOR',
  ];
  const rows = profiles.map((profile) => {
    const state = byId.get(profile.id);
    const last = state?.lastRun ?? null;
    const c = last?.counts;
    const changed = c
      ? c.created +
        c.updated +
        c.renamed +
        c.moved +
        c.enabled +
        c.groupsCreated +
        c.groupsUpdated +
        c.groupsRemoved +
        c.membershipsAdded +
        c.membershipsRemoved
      : null;
    let lastRun = last?.status ?? 'never';
    if (state?.currentRun) lastRun = `running (${formatDuration(now - state.currentRun.startedAt.getTime())})`;
    if (state?.pendingRun) lastRun += `, ${state.pendingRun.full ? 'full ' : ''}run requested`;
    const holder = state?.holder;
    const nextRun = state?.nextRunAt
      ? ago(state.nextRunAt.getTime(), now)
      : holder
        ? holder.mode === 'once'
          ? 'after this --once'
          : '-'
        : profile.enabled
          ? 'no poller active'
          : 'profile disabled';
    return [
      `${profile.name}${profile.enabled ? '' : ' (disabled)'}`,
      lastRun,
      last?.mode ?? '-',
      c ? String(c.entriesRead) : '-',
      changed === null ? '-' : String(changed),
      c ? String(c.disabled) : '-',
      c ? String(c.errors) : '-',
      last ? formatDuration(last.finishedAt - last.startedAt) : '-',
      last ? ago(last.finishedAt, now) : '-',
      nextRun,
      holder ? `${holder.host}:${holder.pid} (${holder.mode}, ${formatDuration(now - holder.since.getTime())})` : '-',
      state?.cursorKind ?? '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (profiles.length === 0) out.push('(no profiles in the configuration)');
  return `${out.join('\n')}\n`;
}
