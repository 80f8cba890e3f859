export const HELP = `dirstream: keep an application's users and groups in step with LDAP / Active Directory.

Usage: dirstream <command> [options]

Commands:
  config check          Validate the configuration and print it (secrets masked, as YAML).
                        --connect also binds to each profile's directory and probes its delta mechanism.
                        Exit 0 when valid, 2 when not (every problem is listed).
  config schema         Print the JSON Schema of the configuration file.
  poller                Run the directory pollers (one per enabled profile).
      --once                  Run one pass per profile, then exit.
      --profile ID            Only this profile (its id or its name).
      --full                  Force a full pass (instead of a differential one).
      --allow-mass-disable    Apply a run even above the profile's disable thresholds.
  plan --profile ID     Read the directory and print what a run would change; writes nothing.
      --full                  Plan a full pass.
  applier               Apply the event topics to the database.
      --replay                Rebuild an empty database from offset 0 (new consumer group,
                              announces nothing downstream).
      --until-caught-up       Exit once every partition is caught up.
      --group ID              Consumer group id (default: applier.groupId).
  sync --profile ID     Sync now: ask the profile's active poller for a run (it starts within a
                        second) and print the run ID. A request while a run is in progress
                        queues one run after it; further requests join that one.
      --full                  A full pass.
      --wait                  Wait for the run; exit 0 when it succeeded, 1 otherwise.
  status                The profiles: last run (status, mode, counts, duration), next run,
                        which poller holds the lock, delta cursor.
  serve                 The HTTP service: sign-in for applications (serve.listen) and the
                        operator console (serve.admin). See docs/authentication.md and
                        docs/operations.md.
  migrate               Create or upgrade the database schema: the application tables and
                        the poller's state schema (each service also migrates at start).
  topics create         Create the Kafka topics (idempotent).

Options:
  -c, --config FILE     Configuration file. Default: $DIRSTREAM_CONFIG, else ./dirstream.yaml.
  -h, --help            Show this help.

Exit codes: 0 success, 1 the command failed (reason printed), 2 usage or configuration error.
Documentation: docs/configuration.md
`;
