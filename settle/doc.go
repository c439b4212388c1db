// Package settle is one settlement run over a scope: which CDRs and tariff
// versions are in it, each CDR priced (the compiled kernel over Arrow
// batches, the decimal reference for the few it cannot take), compared with
// what was billed (reconcile's one comparison), and written back; steps
// after pricing (reconcile, invoices, reports) plug in and run in the same
// transaction. `roamsettle reprice` calls Execute, and so does the whole
// job (RunJob: `run`, the nightly schedule and `demo`) for its price step.
//
// # The run
//
//	Execute(ctx, src Source, sink Sink, Options{Run, Policies, Steps, ...}) (*Summary, error)
//
// A Run is an identity: a Kind (KindReprice), a Period (a calendar month or
// a range of days) and a Partner (zero: every owner). Run.ID() names it
// ("reprice:2026-10/*"); a second run with the same id replaces what the
// first wrote, atomically. Source and Sink are interfaces this package
// declares and the store implements (settle never imports the store, the
// database driver or net/http). A Step is called after pricing with the
// run's open writer and summary; it asserts the writer interface its own
// tables need, and its error rolls the whole run back.
//
// Reports (report.go) renders each owner's dispute workbook and KPI report
// (reports/) and the Parquet exports from the stored rows of the period's
// newest re-pricing and reconciliation, through a ReportSource the store
// implements, into an Output the caller makes atomic; it refuses a period
// whose CDRs are not all reconciled (ErrNotReconciled). ReportStep is the
// same as a step of a run, reading the run's own rows through its writer.
//
// Invoices (invoices.go) is the whole job's InvoiceStep on its own
// (`roamsettle invoice`): for each owner of the scope, over the stored
// rows of its newest re-pricing and its disputes, statements or (Final)
// the numbered invoices, into the owner's folder. Like Reports it refuses
// a period whose CDRs are not all reconciled, and a final period that has
// not ended; statements are dated by when the period's newest CDR was
// received unless told otherwise, so the same rows give the same bytes.
//
// # Invariants
//
//   - One period rule (DESIGN invariant 7): a CDR belongs to the period its
//     end_date_time falls in, read in UTC or in the zone its owner's Policy
//     names (PeriodTime; a CDR whose end is unknown falls back to its start,
//     then to when it was received, so that every stored CDR belongs to
//     exactly one period). Scope.Selection computes each owner's window; the
//     store's scope query takes the Selection (a store test ties the SQL to
//     PeriodTime and Selection.Contains).
//   - The tariff version that prices a CDR is the one in effect at its
//     session start (pricing.InEffect), whatever period the CDR is settled
//     in; the stored location version likewise.
//   - Deterministic: the same inputs give the same rows whatever the batch
//     size, the number of workers or how the source batches its scans; the
//     codes the rows carry (tariffs, zones, reasons, messages) are numbered
//     in a fixed order.
//   - Every CDR of the scope gets exactly one row: priced, or not priceable
//     with a reason code and, where there is one, the message that says why
//     (a tariff that does not compile, the reference's error, a currency
//     that is not ISO 4217); a zone that could not be resolved carries a
//     note saying what was missing.
//   - Missing is not zero: a CDR that states no total_cost is counted as
//     "no billed amount" and adds nothing to the differences
//     (reconcile.Compare, at the currency's minor units the totals were
//     rounded to). Differences are summed per currency, never across.
//   - Money is exact: totals are int64 millionths already rounded to minor
//     units by the owner's policy (whose rounding level must be total or
//     line), line amounts int64 at 1e-10; no float64 near an amount.
//   - All or nothing: the rows are written through one RunWriter and
//     committed once; any error (source, sink, step) rolls the run back and
//     leaves the previous run of the same id in place. Errors are *Error
//     with the operation, a stable ErrKind and the run or object.
//
// # The whole job
//
//	RunJob(ctx, &JobDeps{Source, Sink, Scope, Ledger, Files, Steps, ...}, JobRequest{Scope, Final, AsOf})
//
// `roamsettle run`, the nightly schedule (RunClaimed, for the runs it has
// claimed itself) and `demo` settle a period with it: pull from the
// partners configured for pull, price the scope (Execute, with the InRun
// steps in its transaction), then for each owner in the scope, in order,
// the PartnerSteps (reconcile, invoice, report), each writing its rows in
// its own transaction and then rendering its files from what it stored,
// into OUT/<period>/<CC-PID>/ through Files. A PartnerStep that is also a
// PartnerPrepass does part of its work for every pending owner first, in
// one pass (the reconcile step screens every owner's CDRs at once, since
// owners' CDRs pulled night by night are stored interleaved); what the
// pass keeps changes how fast a step runs, never what it writes.
//
// A run is recorded in the JobLedger (the store's run ledger) under its
// identity JobKey (period, partner, kind, as of), a unique key: a
// provisional run's as-of is the instant it settles as of, a final run's
// is zero (once per period and partner scope); a correction is a final
// settled again after its inputs changed (credit notes, new invoices).
// Invariants:
//
//   - Same inputs, nothing done. A run's inputs are its JobInputs: the
//     store's description of every stored row the scope reads (ScopeInputs:
//     counts and order-independent hashes of CDRs by the period rule,
//     tariff and location versions, withdrawals, invoice reconciliation
//     records, dispute moves made by people) digested with the policy (the
//     configuration that shapes the results, the engine's version, the
//     output folder, the steps wired in). A run asked for when the last
//     succeeded run of its kind (final or correction for --final) has the
//     same digest and every file it recorded is in place with its recorded
//     SHA-256 does nothing and says so (JobResult.Unchanged); no ledger row,
//     no database write, no file touched.
//   - Priced once per inputs. The priced rows are stored with the digest
//     of the job that priced them (RunRecord.Inputs); a run of another
//     kind on the same digest (the final run after the provisional one)
//     uses them and records its price step as reused. Rows priced outside
//     the job (reprice) carry no digest and are priced again.
//   - Resumable. A run that failed, was cancelled or was interrupted (its
//     process killed: the store marks it when it next opens the file) is
//     taken up again by the next request of the same scope and kind, as a
//     new attempt of the same identity, settling as of the instant its
//     first attempt chose. Steps an earlier attempt recorded on the same
//     digest are not done again; on another digest every step is redone. A
//     step is recorded only after its commit and its files, so a recorded
//     step is complete.
//   - Crash safe. Every database write is a step's transaction (pricing
//     replaces the rows of its run id; reconcile replaces its run and raises
//     each dispute once; issuing invoices issues nothing for inputs already
//     invoiced), and files are rendered from stored rows and written
//     atomically after that commit, dated by the run's as-of, never the
//     clock: whatever point a run is killed at, the attempt that finishes it
//     writes the bytes an uninterrupted run would have.
//   - One job at a time in a process (the run command handed to serve and
//     the schedule's runs alike); the ledger's unique identity keeps two
//     processes from starting the same run.
//   - A shutdown stops a run at a step boundary: the step going on runs to
//     its end (its context is not cancelled), the run is recorded
//     cancelled, and the next run of the scope takes it up.
//   - A period is finalised only once it has ended, in every owner's zone.
//
// # Memory and speed
//
// Per-CDR state is dense arrays indexed by cdr_key - minKey (about 60 bytes
// per key in the scope's key range), so the kernel's header lookup is an
// index; the strings a CDR is priced by come once per distinct context.
// Headers and periods are read in key ranges of 2^20 (the DuckDB driver
// materialises a whole query result). A writer goroutine appends one batch
// while the kernel prices the next.
//
// A small scope costs what its CDRs cost, however long the history: the
// source reads only the period's rows (the store's zone maps prune the
// rest), and a sparse scope, which holds fewer than half of its key
// range's keys (a day of a month, a month some of whose CDRs were stored
// much later), has one array entry per CDR (found by binary search), and
// its headers and periods are read for its own CDRs, by the ranges its
// keys fall in.
package settle
