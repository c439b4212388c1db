// Package store is roamsettle's DuckDB database: the schema and its
// migrations, the bulk writer every received payload goes through, and the
// readers (single objects through database/sql, bulk scans through Arrow).
// It is the only package that imports the DuckDB driver; build and test it
// with -tags=duckdb_arrow.
//
// # Invariants
//
//   - Nothing received is lost: Save appends every new payload's raw bytes
//     to the raw archive (append-only segment files beside the database,
//     <db>.raw/, once per SHA-256, fsynced) before the transaction that
//     records them in raw_payloads, every receipt in receipts and their
//     interpretation commits. A payload that cannot be stored as an object
//     leaves one rejects row per problem, pointing at its raw bytes. The
//     archive's records carry their own SHA-256, so it can be replayed
//     without the database, and a corrupted record is refused on read.
//   - CDRs are immutable: the identity is (country_code, party_id, id)
//     upper-cased. The same body again is a duplicate and changes nothing; a
//     different body is refused and recorded in conflicts, once per refused
//     body. "Same body" is the canonical hash of the decoded model
//     (canonical.go), so formatting, key order, trailing zeros and the case
//     of the identity do not make a conflict.
//   - Tariffs, locations and invoice reconciliation records are append-only
//     versions keyed by (identity, last_updated). A withdrawal is a row in
//     tariff_withdrawals; no version row is ever updated or deleted.
//   - Money is exact: amounts, prices and volumes are DECIMAL(18,6) (12
//     integer digits, 6 decimals: OCPI numbers carry 4). Values are written
//     already scaled through Arrow decimal128 (the Appender's DECIMAL scale
//     trap does not apply) and read back as decimal.Decimal from the
//     coefficient. A value that does not fit is never rounded: in a CDR
//     (a billing claim, always stored) its column is NULL with a finding
//     at its path, blocking where pricing reads it (numbers.go); a
//     published tariff with one, or with a number that could not be read
//     or a missing price, is refused (it would be priced as 0).
//   - A batch is all or nothing: Save writes it in one transaction and, if
//     that fails, forgets its in-memory additions too.
//   - Times are TIMESTAMPTZ in UTC with DuckDB's microsecond precision; the
//     body hash is computed before that truncation.
//   - A settlement run's identity (period, partner, kind, as_of) is a unique
//     key of runs, every part a value (partner "" for all partners, the
//     zero time for a once-per-scope run), so two triggers of one run claim
//     it once even if they race past every lock. A run still 'running' when
//     Open runs was left by a process that died (one process owns the
//     file): Open marks it interrupted, and a new attempt may claim it.
//
// # Schema (migrations/0001_init.sql)
//
//	raw_payloads(sha256, size, segment, byte_offset, first_received_at)   where the bytes are
//	receipts(sha256, channel, source_name, partner, position, received_at, kind, version, outcome, repeated)
//	cdrs(cdr_key, identity, as-sent spelling, body/raw sha256, times, token, location, totals, ...)
//	charging_periods(cdr_key, period_index, start_date_time, tariff_id)
//	cdr_dimensions(cdr_key, period_index, dimension_index, type_code, volume)
//	dimension_types(code, name)                             + view cdr_dimensions_named
//	tariff_bodies(tariff_key, sha256, header)               content-addressed tariff contents
//	tariff_elements(tariff_key, element_index, restrictions...), tariff_components(...)
//	tariffs(identity, last_updated, tariff_key, ...)        published versions
//	tariff_withdrawals(identity, withdrawn_at)
//	cdr_tariffs(cdr_key, position, tariff_key)              tariffs embedded in a CDR
//	locations, location_evses, location_connectors(tariff_ids VARCHAR[])  versions
//	invoice_reconciliations, invoice_reconciliation_cdrs    2.3.0 IRR versions
//	findings(kind, object_key, identity, path, rule, message, blocking)
//	rejects(raw_sha256, source, kind, version, path, rule, message)
//	conflicts(kind, identity, last_updated, stored_sha256, refused_sha256, raw_sha256, detected_at)
//	schema_version(version, name, applied_at)
//
// Later migrations: 0002_partners.sql (partner connections with hashed
// tokens, pull checkpoints; partners.go), 0003_priced.sql (reprice runs,
// priced_cdrs, priced_lines and the view priced_cdrs_compared; priced.go),
// 0004_irr_withdrawals.sql (invoice_reconciliation_withdrawals, shaped like
// tariff_withdrawals; irr.go), 0005_hub_clients.sql (the parties a hub
// fronts; partners.go), 0006_settle.sql (settle run ids, the
// billed-versus-computed outcome, priced_messages and zone notes; a missing
// total_cost stored as 0 by earlier builds becomes NULL; priced.go),
// 0007_reconcile.sql (reconcile runs with their per-CDR verdicts, findings
// and invoice lines, replaced per run id; disputes, one per CDR identity,
// and dispute_events, appended only; reconcile.go reads a partner's period
// for reconcile, disputes.go writes and moves), 0008_runs.sql (the run
// ledger: runs, run_attempts, run_steps, run_outputs; runs.go),
// 0009_intake.sql (cdr_dimensions.volume nullable for numbers that do not
// fit, numbers.go; rejects.blocking), 0010_invoices.sql (invoice_documents
// and invoice_inputs: issued invoices and credit notes with their input
// snapshots, append-only; invoices.go implements invoicing.Ledger),
// 0011_reconcile_step.sql (reconciliation as a step of a settle run; the
// stored CDR's key on its result), 0012_priced_inputs.sql (the inputs
// digest a run's priced rows were computed from), 0013_reconcile_accepted.sql
// (the CDRs reconcile's screen accepts from columns stored by key and as
// numbers in reconcile_accepted, under the reconciliation's run_no; those
// evaluated whole stay in reconcile_cdrs with their identity; reports.go
// reads both, reconcile_bulk.go writes them).
//
// The store is settle's ReportSource (reports.go, parquet.go), on the
// database and on a run's writer: each owner's figures, disputes and
// Parquet exports come from its newest re-pricing ('reprice:P/CC-PID' or
// 'reprice:P/*', by finished_at; a run's writer reads its own rows) and its
// reconciliation ('reconcile:P/CC-PID'). A report's rows are gathered once
// on one connection (GatherReport) for its figures, disputes and exports.
// The Parquet files are written by one DuckDB COPY per table and owner
// into its hive path under a directory the caller gives (it moves them
// into place), ordered by CDR id, the same bytes for the same rows (an
// empty file when the owner has no rows); not by COPY ... PARTITION_BY,
// whose row groups follow its threads.
//
// The store is settle's Source and Sink (priced.go): it selects a scope's
// CDRs by the period rule (settle.PeriodTime in SQL) and writes a run's
// rows in one transaction. The scope queries read only the period's rows
// (scopeSQL: plain ranges on end_date_time that DuckDB's zone maps prune;
// a test pins the rows scanned), so a small reprice costs the same with
// years stored as with a month. A CDR's billed total_cost is NULL when the CDR
// states none: missing is not zero.
//
// Dimension types are stored as a one-byte code: the narrow dimension table
// then loads about twice as fast as with the type name.
//
// # Writing
//
// Save builds one Arrow record per table for the whole batch and inserts it
// with INSERT ... BY NAME from a registered Arrow view, inside one
// transaction. Duplicates and conflicts are decided against the identity
// index (index.go, idxrun.go), maintained by Save, which is the only
// writer: immutable sorted runs in <db>.idx/ (mmapped; a lookup reads a few
// pages whatever the history) and in memory what is not in a run yet. A
// run holds only committed rows and the manifest records, per source
// table, the row up to which the runs go; the first Save checks that the
// database still holds that row (else the runs are rebuilt from the
// database) and reads back the rows after it. So classifying a batch, and
// starting a writer, costs the same with years stored as with none; the
// index is a cache of the database and may be deleted (the next writer
// rebuilds it, once, at the cost of reading every identity).
//
// Save is Begin followed by its wait. Begin (serialised by a mutex)
// classifies the batch, builds its rows and makes its new raw bytes durable;
// the transaction then runs in the background, after those of the batches
// begun before, so a bulk importer prepares batch N+1 while batch N commits.
// Each pending batch keeps its own undo log: if a transaction fails, it and
// every batch begun after it are forgotten by the indexes, their archive
// appends truncated, and their waits return errors (ErrEarlierBatchFailed
// for the later ones). Open one Store per database: DuckDB refuses a second
// read-write process, and two Stores in one process would interleave
// archive appends.
//
// Measured on the shared 2-core build machine (BenchmarkSave: 200 k CDRs of
// 3 periods x 3 dimensions, ~1 KB raw each, batches of 10 k, file database,
// TuneForBulkLoad, final checkpoint included): 28-34 k CDRs/s, ~30 us of
// CPU per CDR (~22 k/s and ~45 us before TuneForBulkLoad). Per CDR, roughly:
// 9.5 us classifying and building Arrow rows in Go, 1.7 us raw archive,
// 4.4 us DuckDB's Arrow scan, 5.8 us WAL at commit, 7 us checkpoints. The
// cdrs table is most of DuckDB's share: not inserting it at all saves ~10 us
// per CDR (per column more than per byte: leaving 22 of its text columns
// NULL saves only ~3 us). Transactions of 130 k rows (DuckDB then writes row
// groups to the file instead of the WAL) measured no better with one
// thread. ScanPeriods streams 5-9 M periods/s.
//
// End to end, `make bench-ingest` (1 M generated CDRs from NDJSON, decode on
// both cores): ~27-30 k CDRs/s with a peak of ~1.3-1.4 GiB, was ~16-21 k/s
// and 2.3 GiB (A/B runs back to back on the shared machine; the commit
// messages give each step's figures).
//
// # Connections
//
// The pool holds at most 2 connections: one for Save's transaction, one so
// that reads are not queued behind it.
//
// # Lending (one owner, many hands)
//
// One process owns the database. serve runs the commands started beside it
// on handles it lends (Lend, lend.go): each has its own pool on the same
// DuckDB instance, so a long scan does not take the receiver's connections;
// its Saves are the owner's (one writer, one set of indexes, commits in
// Begin order), and a batch it began commits even if it is cancelled, since
// a failed commit would refuse the batches begun after it, the receiver's
// included. What a borrower changes of threads, memory_limit and
// checkpoint_threshold is set back when the last lent handle is closed;
// closing a lent handle never closes the database.
package store
