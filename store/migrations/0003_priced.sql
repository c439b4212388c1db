-- 0003: results of `roamsettle reprice` (store/priced.go).
--   * a run is identified by its scope, run_id = 'YYYY-MM/CC-PID' or
--     'YYYY-MM/*' (every partner), numbered once in reprice_runs.run_no (the
--     priced rows carry the number: a constant string per row costs ~2 s per
--     10 M rows to insert); re-running a scope replaces its rows in one
--     transaction, so the same inputs always leave identical rows.
--   * priced_cdrs holds no strings: status, reason, priced_by and the time
--     zone are small codes (strings made inserting 10 M rows ~8x slower);
--     currency and the billed totals are read from cdrs by the view
--     priced_cdrs_compared, which names every code.
--   * totals are DECIMAL(18,6) (already rounded to the currency's minor units
--     by the policy); line amounts are DECIMAL(18,10), the pricing kernel's
--     exact scale, because the default policy rounds totals, not lines.

-- When each scope was last re-priced, and the number its rows carry.
CREATE TABLE reprice_runs (
    run_id      VARCHAR     NOT NULL,
    run_no      INTEGER     NOT NULL, -- kept by a re-run of the same scope
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    cdrs        BIGINT      NOT NULL
);

-- The tariff versions a run priced with, each compiled once under a policy.
CREATE TABLE priced_tariffs (
    run_no       INTEGER     NOT NULL,
    tariff_ref   INTEGER     NOT NULL, -- referenced by priced_cdrs
    source       VARCHAR     NOT NULL, -- 'published' (in effect) or 'embedded' (in the CDR)
    tariff_key   BIGINT      NOT NULL, -- tariff_bodies.tariff_key
    country_code VARCHAR,
    party_id     VARCHAR,
    id           VARCHAR,
    last_updated TIMESTAMPTZ,
    currency     VARCHAR,
    policy       VARCHAR     NOT NULL  -- e.g. 'half_up/total/2.2.1-d2'
);

-- The time zones a run evaluated restrictions in.
CREATE TABLE priced_zones (
    run_no      INTEGER  NOT NULL,
    zone_ref    SMALLINT NOT NULL, -- referenced by priced_cdrs
    time_zone   VARCHAR  NOT NULL, -- IANA name ('UTC' when unresolved)
    zone_source VARCHAR  NOT NULL  -- location, embedded, country, coordinates, unresolved
);

-- Why a CDR was not priceable, or why the reference priced it.
CREATE TABLE priced_reasons (
    run_no     INTEGER  NOT NULL,
    reason_ref UTINYINT NOT NULL, -- referenced by priced_cdrs
    reason     VARCHAR  NOT NULL
);

-- One row per CDR in the run's scope, priceable or not.
CREATE TABLE priced_cdrs (
    run_no       INTEGER  NOT NULL,
    cdr_key      BIGINT   NOT NULL,
    status       UTINYINT NOT NULL, -- 0 priced, 1 not_priceable
    reason_ref   UTINYINT,          -- priced_reasons.reason_ref
    priced_by    UTINYINT,          -- 1 kernel, 2 reference
    tariff_ref   INTEGER,           -- priced_tariffs.tariff_ref (published, in effect)
    zone_ref     SMALLINT NOT NULL, -- priced_zones.zone_ref
    flags        INTEGER  NOT NULL, -- kernel flags: 1 expired reservation, 2 min applied, 4 max applied, 8 unverifiable restriction, 16 FLAT changed
    total_cost_excl_vat              DECIMAL(18,6),
    total_cost_incl_vat              DECIMAL(18,6),
    total_fixed_cost_excl_vat        DECIMAL(18,6),
    total_fixed_cost_incl_vat        DECIMAL(18,6),
    total_energy_cost_excl_vat       DECIMAL(18,6),
    total_energy_cost_incl_vat       DECIMAL(18,6),
    total_time_cost_excl_vat         DECIMAL(18,6),
    total_time_cost_incl_vat         DECIMAL(18,6),
    total_parking_cost_excl_vat      DECIMAL(18,6),
    total_parking_cost_incl_vat      DECIMAL(18,6),
    total_reservation_cost_excl_vat  DECIMAL(18,6),
    total_reservation_cost_incl_vat  DECIMAL(18,6),
    -- The same CDR priced with the tariff embedded in it (NULL when none).
    embedded_tariff_ref              INTEGER,
    embedded_total_cost_excl_vat     DECIMAL(18,6),
    embedded_total_cost_incl_vat     DECIMAL(18,6)
);

-- One row per priced dimension of a period (published tariff in effect).
CREATE TABLE priced_lines (
    run_no          INTEGER   NOT NULL,
    cdr_key         BIGINT    NOT NULL,
    period_index    USMALLINT NOT NULL, -- position of the period after sorting by start
    dimension       UTINYINT  NOT NULL, -- dimension_types.code: 9 FLAT, 1 ENERGY, 2 TIME, 3 PARKING_TIME, 4 RESERVATION_TIME
    element_index   USMALLINT NOT NULL,
    quantity        DECIMAL(18,6) NOT NULL, -- kWh for ENERGY, seconds for *_TIME, 1 for FLAT
    billed_quantity DECIMAL(18,6) NOT NULL, -- plus the step-size extra
    unit_price      DECIMAL(18,6) NOT NULL, -- per kWh, per hour, per session (as in the tariff)
    vat             DECIMAL(18,6),          -- percentage, NULL when the component has none
    amount_excl_vat DECIMAL(18,10) NOT NULL,
    amount_incl_vat DECIMAL(18,10) NOT NULL
);

-- priced_cdrs with its codes named, its currency and billed totals from cdrs,
-- and the difference (computed - billed).
CREATE VIEW priced_cdrs_compared AS
    SELECT r.run_id, p.cdr_key,
        CASE p.status WHEN 0 THEN 'priced' WHEN 1 THEN 'not_priceable' END AS status,
        x.reason,
        CASE p.priced_by WHEN 1 THEN 'kernel' WHEN 2 THEN 'reference' END AS priced_by,
        p.tariff_ref, z.time_zone, z.zone_source, p.flags, c.currency,
        p.* EXCLUDE (run_no, cdr_key, status, reason_ref, priced_by, tariff_ref, zone_ref, flags),
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
    LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref;
