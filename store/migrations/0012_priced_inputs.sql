-- 0012: the whole job's inputs digest the priced rows were computed from
-- (settle.RunRecord.Inputs), so that a run of the same inputs (the final
-- run after a provisional one that settled the same CDRs, tariffs and
-- policy) uses the stored rows instead of pricing the period again. NULL
-- for rows written by `reprice` and by runs before this migration: those
-- are priced again by the next job.
ALTER TABLE reprice_runs ADD COLUMN inputs_digest VARCHAR;
