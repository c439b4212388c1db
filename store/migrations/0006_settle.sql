-- 0006: settle runs (settle/, store/priced.go).
--   * run_id is settle.Run.ID(), 'KIND:PERIOD/PARTNER', e.g.
--     'reprice:2026-10/*' or 'reprice:2026-10/DE-ABC'; the period is a
--     month or 'YYYY-MM-DD..YYYY-MM-DD' and selects CDRs by end_date_time
--     (settle.PeriodTime). Rows of 0003's 'YYYY-MM/...' ids (session start
--     rule) are left as they were.
--   * a missing total_cost is no billed amount, not 0.00: CDRs stored
--     before it became optional had it read as 0 (their decode finding says
--     so); their billed columns become NULL.
--   * every cause keeps its message: priced_messages, named by
--     priced_cdrs.message_ref; priced_zones.note says what resolving a zone
--     had to assume or why it failed.
--   * priced_cdrs.billed_outcome is reconcile.Outcome of total_cost (0
--     not_priced, 1 no_billed_amount, 2 equal, 3 different), compared at the
--     currency's minor units, so the view and the run's summary agree.

UPDATE cdrs SET total_cost_excl_vat = NULL, total_cost_incl_vat = NULL
WHERE cdr_key IN (SELECT object_key FROM findings WHERE kind = 'cdr'
    AND path IN ('total_cost', 'total_cost.excl_vat', 'total_cost.before_taxes')
    AND rule IN ('required', 'type', 'too_large', 'format'));

CREATE TABLE priced_messages (
    run_no      INTEGER NOT NULL,
    message_ref INTEGER NOT NULL, -- referenced by priced_cdrs
    message     VARCHAR NOT NULL
);

ALTER TABLE priced_cdrs ADD COLUMN message_ref INTEGER;
ALTER TABLE priced_cdrs ADD COLUMN billed_outcome UTINYINT;
ALTER TABLE priced_zones ADD COLUMN note VARCHAR;

DROP VIEW priced_cdrs_compared;

-- priced_cdrs with its codes named, its currency and billed totals from cdrs,
-- the billed-versus-computed outcome, and the difference (computed - billed;
-- NULL when either side is missing).
CREATE VIEW priced_cdrs_compared AS
    SELECT r.run_id, p.cdr_key,
        CASE p.status WHEN 0 THEN 'priced' WHEN 1 THEN 'not_priceable' END AS status,
        x.reason, m.message,
        CASE p.priced_by WHEN 1 THEN 'kernel' WHEN 2 THEN 'reference' END AS priced_by,
        CASE p.billed_outcome WHEN 0 THEN 'not_priced' WHEN 1 THEN 'no_billed_amount' WHEN 2 THEN 'equal'
            WHEN 3 THEN 'different' END AS billed_outcome,
        p.tariff_ref, z.time_zone, z.zone_source, z.note AS zone_note, p.flags, c.currency,
        p.* EXCLUDE (run_no, cdr_key, status, reason_ref, message_ref, priced_by, billed_outcome, tariff_ref, zone_ref, flags),
        c.total_cost_excl_vat AS billed_total_cost_excl_vat,
        c.total_cost_incl_vat AS billed_total_cost_incl_vat,
        p.total_cost_excl_vat - c.total_cost_excl_vat AS difference_excl_vat,
        p.total_cost_incl_vat - c.total_cost_incl_vat AS difference_incl_vat,
        t.country_code AS tariff_country_code, t.party_id AS tariff_party_id, t.id AS tariff_id,
        t.last_updated AS tariff_last_updated, t.policy,
        c.total_fixed_cost_excl_vat AS billed_total_fixed_cost_excl_vat,
        c.total_energy_cost_excl_vat AS billed_total_energy_cost_excl_vat,
        c.total_time_cost_excl_vat AS billed_total_time_cost_excl_vat,
        c.total_parking_cost_excl_vat AS billed_total_parking_cost_excl_vat,
        c.total_reservation_cost_excl_vat AS billed_total_reservation_cost_excl_vat
    FROM priced_cdrs p
    JOIN reprice_runs r USING (run_no)
    JOIN cdrs c USING (cdr_key)
    JOIN priced_zones z ON z.run_no = p.run_no AND z.zone_ref = p.zone_ref
    LEFT JOIN priced_reasons x ON x.run_no = p.run_no AND x.reason_ref = p.reason_ref
    LEFT JOIN priced_messages m ON m.run_no = p.run_no AND m.message_ref = p.message_ref
    LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref;
