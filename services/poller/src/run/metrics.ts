import type { ProfileConfig } from '@dirstream/config';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SyncResult } from './sync-run.ts';

/**
 * The poller's Prometheus metrics, one registry per `runPoller` (no module singletons). Every
 * series is labelled by `profile_id`; `dirstream_poller_profile_info` maps it to the name.
 */
export type PollerMetrics = {
  readonly registry: Registry;
  /** Registers the profile's series (so a never-run profile shows 0, not nothing). */
  addProfile(profile: ProfileConfig): void;
  recordRun(profileId: string, result: SyncResult): void;
  setLockHeld(profileId: string, held: boolean): void;
  /** A requested run (sync now, first sign-in, `--once` hand-over) starts, `waitedMs` after the request. */
  recordRequestStarted(profileId: string, reason: string, waitedMs: number): void;
  /** Profiles this process polls: true when it holds their lock (active), false (standby). */
  activeProfiles(): Readonly<Record<string, 'active' | 'standby'>>;
};

const RUN_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export function createPollerMetrics(): PollerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dirstream_poller_' });
  const held = new Map<string, boolean>();
  const cursorAdvancedAt = new Map<string, number>();
  const registers = [registry];

  const info = new Gauge({
    name: 'dirstream_poller_profile_info',
    help: 'Profiles this poller serves (value 1): name, directory type, configured delta mechanism (auto: probed per run)',
    labelNames: ['profile_id', 'profile', 'directory', 'delta'],
    registers,
  });
  const runs = new Counter({
    name: 'dirstream_poller_runs_total',
    help: 'Finished sync runs by status (succeeded, failed, halted) and mode (full, delta)',
    labelNames: ['profile_id', 'status', 'mode'],
    registers,
  });
  const runDuration = new Histogram({
    name: 'dirstream_poller_run_duration_seconds',
    help: 'Duration of a sync run',
    labelNames: ['profile_id', 'mode', 'status'],
    buckets: RUN_BUCKETS,
    registers,
  });
  const phaseDuration = new Histogram({
    name: 'dirstream_poller_phase_duration_seconds',
    help: 'Duration of each phase of a sync run (users, groups, memberships, removals)',
    labelNames: ['profile_id', 'phase'],
    buckets: RUN_BUCKETS,
    registers,
  });
  const entriesRead = new Counter({
    name: 'dirstream_poller_entries_read_total',
    help: 'Directory entries read',
    labelNames: ['profile_id'],
    registers,
  });
  const eventsProduced = new Counter({
    name: 'dirstream_poller_events_produced_total',
    help: 'Change events acknowledged by Kafka, by entity (user, group, membership)',
    labelNames: ['profile_id', 'entity'],
    registers,
  });
  const entryErrors = new Counter({
    name: 'dirstream_poller_entry_errors_total',
    help: 'Entry errors (an entry that could not be synced; the run goes on)',
    labelNames: ['profile_id'],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'dirstream_poller_last_success_timestamp_seconds',
    help: 'End of the last successful run (Unix time); absent before one',
    labelNames: ['profile_id'],
    registers,
  });
  const lastRun = new Gauge({
    name: 'dirstream_poller_last_run_timestamp_seconds',
    help: 'End of the last run whatever its status (Unix time)',
    labelNames: ['profile_id'],
    registers,
  });
  const lastStatus = new Gauge({
    name: 'dirstream_poller_last_run_status',
    help: 'Status of the last run: 1 for the label that applies (succeeded, failed, halted), 0 for the others',
    labelNames: ['profile_id', 'status'],
    registers,
  });
  const requestedRuns = new Counter({
    name: 'dirstream_poller_requested_runs_total',
    help: 'Runs started for a sync request, by reason (operator, first-sign-in, poller-once); coalesced requests count once',
    labelNames: ['profile_id', 'reason'],
    registers,
  });
  const requestDelay = new Histogram({
    name: 'dirstream_poller_sync_request_delay_seconds',
    help: 'From a sync request to the start of its run (a request made during a run waits for that run)',
    labelNames: ['profile_id'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const lockHeld = new Gauge({
    name: 'dirstream_poller_lock_held',
    help: "1 when this process holds the profile's lock (active poller), 0 when it stands by",
    labelNames: ['profile_id'],
    registers,
  });
  new Gauge({
    name: 'dirstream_poller_delta_cursor_age_seconds',
    help: "Seconds since this poller last advanced the profile's delta cursor (a successful run)",
    labelNames: ['profile_id'],
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const [profileId, at] of cursorAdvancedAt) this.set({ profile_id: profileId }, (now - at) / 1000);
    },
  });

  return {
    registry,
    addProfile(profile) {
      info.set({ profile_id: profile.id, profile: profile.name, directory: profile.directory, delta: profile.schedule.delta }, 1);
      held.set(profile.id, false);
      lockHeld.set({ profile_id: profile.id }, 0);
      for (const status of ['succeeded', 'failed', 'halted'])
        for (const mode of ['full', 'delta']) runs.inc({ profile_id: profile.id, status, mode }, 0);
      entriesRead.inc({ profile_id: profile.id }, 0);
      entryErrors.inc({ profile_id: profile.id }, 0);
    },
    recordRun(profileId, result) {
      const { summary } = result;
      const c = summary.counts;
      const labels = { profile_id: profileId };
      runs.inc({ ...labels, status: summary.status, mode: summary.mode });
      runDuration.observe({ ...labels, mode: summary.mode, status: summary.status }, (summary.finishedAt - summary.startedAt) / 1000);
      for (const [phase, ms] of Object.entries(summary.phasesMs ?? {})) phaseDuration.observe({ ...labels, phase }, ms / 1000);
      entriesRead.inc(labels, c.entriesRead);
      entryErrors.inc(labels, c.errors);
      eventsProduced.inc({ ...labels, entity: 'user' }, c.created + c.updated + c.renamed + c.moved + c.disabled + c.enabled);
      eventsProduced.inc({ ...labels, entity: 'group' }, c.groupsCreated + c.groupsUpdated + c.groupsRemoved);
      eventsProduced.inc({ ...labels, entity: 'membership' }, c.membershipsAdded + c.membershipsRemoved);
      lastRun.set(labels, summary.finishedAt / 1000);
      for (const status of ['succeeded', 'failed', 'halted']) lastStatus.set({ ...labels, status }, status === summary.status ? 1 : 0);
      if (summary.status === 'succeeded') {
        lastSuccess.set(labels, summary.finishedAt / 1000);
        if (summary.cursorAfter !== null) cursorAdvancedAt.set(profileId, summary.finishedAt);
      }
    },
    recordRequestStarted(profileId, reason, waitedMs) {
      requestedRuns.inc({ profile_id: profileId, reason });
      requestDelay.observe({ profile_id: profileId }, Math.max(0, waitedMs) / 1000);
    },
    setLockHeld(profileId, isHeld) {
      held.set(profileId, isHeld);
      lockHeld.set({ profile_id: profileId }, isHeld ? 1 : 0);
    },
    activeProfiles() {
      return Object.fromEntries([...held].map(([id, h]) => [id, h ? 'active' : 'standby']));
    },
  };
}
