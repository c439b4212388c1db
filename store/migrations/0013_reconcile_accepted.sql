-- 0013: the CDRs reconcile's screen accepts from columns (verdict OK, no
-- reasons, no note: most of a period) are stored by key, as numbers, in
-- reconcile_accepted instead of as reconcile_cdrs rows; their identity and
-- currency are their CDR's (cdrs). reconcile_cdrs keeps the CDRs evaluated
-- whole, and every CDR of the runs before this migration. Writing the
-- accepted CDRs' identity strings again cost 18 of the 20 CPU-s that
-- storing a 10 M month's 9.4 M accepted results took.
--   * reconcile_runs.run_no numbers a reconciliation: a run id keeps its
--     number from one run to the next, a new one takes the sequence's next
--     (unique, also between concurrent transactions); NULL for runs before.
CREATE SEQUENCE reconcile_run_no START 1;
ALTER TABLE reconcile_runs ADD COLUMN run_no INTEGER;
CREATE TABLE reconcile_accepted (
    run_no          INTEGER NOT NULL, -- reconcile_runs.run_no
    cdr_key         BIGINT  NOT NULL, -- the CDR: verdict OK, no reasons
    billed_excl     DECIMAL(18,6),
    billed_incl     DECIMAL(18,6),
    recomputed_excl DECIMAL(18,6),
    recomputed_incl DECIMAL(18,6),
    difference_excl DECIMAL(18,6),
    difference_incl DECIMAL(18,6)
);
