-- 0011: reconciliation as a step of a settle run (settle/reconcile.go,
-- store/reconcile_bulk.go).
--   * reconcile_runs.settle_run is the id of the settle run whose
--     transaction wrote the reconciliation ('reprice:2026-10/*'); NULL when
--     `roamsettle reconcile` reconciled over fresh priced rows on its own.
--     reconcile_runs.report now holds the report's JSON without its per-CDR
--     arrays (period, partner, summary, kpis, invoice): the CDRs and the
--     findings are the rows of reconcile_cdrs and reconcile_findings.
--   * reconcile_cdrs.cdr_key names the stored CDR (NULL in rows written
--     before).
ALTER TABLE reconcile_runs ADD COLUMN settle_run VARCHAR;
ALTER TABLE reconcile_cdrs ADD COLUMN cdr_key BIGINT;
