// Package settle is one settlement run over a scope: which CDRs and tariff
// versions are in it, each CDR priced (the compiled kernel over Arrow
// batches, the decimal reference for the few it cannot take), compared with
// what was billed (reconcile's one comparison), and written back; steps
// after pricing (reconcile, invoices, reports) plug in and run in the same
// transaction. `roamsettle reprice`, `demo` and, later, `run` and the
// nightly scheduler all call Execute.
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
// # Memory and speed
//
// Per-CDR state is dense arrays indexed by cdr_key - minKey (about 60 bytes
// per key in the scope's key range), so the kernel's header lookup is an
// index; the strings a CDR is priced by come once per distinct context.
// Headers and periods are read in key ranges of 2^20 (the DuckDB driver
// materialises a whole query result). A writer goroutine appends one batch
// while the kernel prices the next.
package settle
