-- 0014: receipts.repeated is true on a receipt of bytes received before
-- (a payload's every receipt but its first). Ingest sets it from the
-- payload index it already keeps, so finding the payloads received more
-- than once (reconcile's duplicate receipts) reads this column instead of
-- grouping every receipt of the database by its hash: 5.1 against 0.9
-- CPU-s for the 10 M receipts of one month, and growing with the history.
-- Receipts stored before take it from their order of receipt.
ALTER TABLE receipts ADD COLUMN repeated BOOLEAN DEFAULT false;
UPDATE receipts SET repeated = true WHERE rowid IN (
    SELECT rowid FROM (
        SELECT rowid, row_number() OVER (PARTITION BY sha256 ORDER BY received_at, rowid) AS nth FROM receipts)
    WHERE nth > 1);
