// Package schedule runs settlements on a calendar: a nightly tick (a cron
// expression read in a zone) settles every open month provisionally and
// finalises each month once its grace period has passed; ticks missed while
// the process was down are caught up when it starts; runs asked for by hand
// (Trigger) share the same rules. The settlement itself is the Runner's
// (settle), the record of runs the Ledger's (store), the pulls the Pull
// hook's (ingest/puller); cmd/roamsettle wires them and decodes the
// [schedule] section of the config into Config.
//
// Invariants:
//
//   - A tick is due at each wall-clock time the cron expression names in the
//     configured zone (UTC by default), once: a wall time repeated when the
//     clocks go back is due at its first occurrence only; a wall time skipped
//     when they go forward is due when the gap ends (02:30 on the spring
//     change in Europe/Berlin runs at 03:00 CEST). robfig/cron is used only
//     to parse and to step through wall-clock fields, never to fire jobs: its
//     runner loses and repeats DST hours, recovers no panic by default and
//     forgets runs missed while down.
//   - A tick as of slot S settles, for each partner scope, every period from
//     the scope's first unfinalised one (Config.From, else the Ledger's
//     earliest, else the period of the first tick) to the period S falls in:
//     a period whose end plus grace is not after S is finalised, any other is
//     settled provisionally. So a closed month is settled provisionally every
//     night of its grace period and finalised by the first tick at or after
//     its deadline, and a month's final never waits for a later month.
//   - Each month is finalised once per partner scope: the final run's
//     identity (period, partner, final) is the Ledger's unique key, and a
//     provisional run's identity adds the tick it stands for. Finals of a
//     scope go in period order; one that fails holds back the later ones
//     until it succeeds on a later tick.
//   - Catch-up: on start, the latest tick due before now is run (as
//     OriginCatchUp); it stands for every tick missed, since a provisional
//     run settles everything so far and finals are found by walking the
//     periods. The Ledger's Done makes a restart on an already-run day a
//     no-op. A tick that outlasts the next one is caught up the same way.
//   - One run per scope (period, partner, kind) at a time in a process: a
//     trigger while a run of the scope is going joins it and gets its result.
//     Runs of one period and partner, of either kind, never overlap.
//   - A panic in a job (or in a pull) is recovered, logged with its stack
//     and recorded in the Ledger as a failed run; the scheduler goes on.
//   - Shutdown cancels the runs' context and waits for every run to return
//     (at its next step boundary) and for its outcome to be recorded.
//   - Runs are counted in Prometheus collectors the caller registers
//     (Collectors) and summed up in Health for serve's /health.
//   - The package imports no database and no HTTP server.
package schedule
