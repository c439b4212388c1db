-- 0003: results of `roamsettle reprice` (store/priced.go).
--   * a run is identified by its scope, run_id = 'YYYY-MM/CC-PID' or
--     'YYYY-MM/*' (every partner): re-running a scope replaces its rows in one
--     transaction, so the same inputs always leave identical rows.
--   * totals are DECIMAL(18,6) (already rounded to the currency's minor units
--     by the policy); line amounts are DECIMAL(18,10), the pricing kernel's
--     exact scale, because the default policy rounds totals, not lines.
--   * billed total_cost is copied beside the recomputed one with the
--     difference (computed - billed); the billed sub-totals stay in cdrs
--     (view priced_cdrs_compared joins them).

-- The tariff versions a run priced with, each compiled once under a policy.
CREATE TABLE priced_tariffs (
    run_id       VARCHAR     NOT NULL,
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

-- One row per CDR in the run's scope, priceable or not.
CREATE TABLE priced_cdrs (
    run_id       VARCHAR  NOT NULL,
    cdr_key      BIGINT   NOT NULL,
    status       VARCHAR  NOT NULL, -- 'priced' or 'not_priceable'
    reason       VARCHAR,           -- why not priceable / why the reference priced it
    priced_by    VARCHAR,           -- 'kernel' or 'reference'
    tariff_ref   INTEGER,           -- priced_tariffs.tariff_ref (published, in effect)
    time_zone    VARCHAR,           -- IANA name the restrictions were evaluated in ('UTC' when unresolved)
    zone_source  VARCHAR,           -- location, embedded, country, coordinates, unresolved
    flags        INTEGER  NOT NULL, -- kernel flags: 1 expired reservation, 2 min applied, 4 max applied, 8 unverifiable restriction, 16 FLAT changed
    currency     VARCHAR,
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
    billed_total_cost_excl_vat       DECIMAL(18,6),
    billed_total_cost_incl_vat       DECIMAL(18,6),
    difference_excl_vat              DECIMAL(18,6), -- computed - billed
    difference_incl_vat              DECIMAL(18,6),
    -- The same CDR priced with the tariff embedded in it (NULL when none).
    embedded_tariff_ref              INTEGER,
    embedded_total_cost_excl_vat     DECIMAL(18,6),
    embedded_total_cost_incl_vat     DECIMAL(18,6)
);

-- One row per priced dimension of a period (published tariff in effect).
CREATE TABLE priced_lines (
    run_id          VARCHAR   NOT NULL,
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

-- When each scope was last re-priced (metadata; the priced rows do not carry it).
CREATE TABLE reprice_runs (
    run_id      VARCHAR     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    cdrs        BIGINT      NOT NULL
);

CREATE VIEW priced_cdrs_compared AS
    SELECT p.*, t.country_code AS tariff_country_code, t.party_id AS tariff_party_id, t.id AS tariff_id,
        t.last_updated AS tariff_last_updated, t.policy,
        c.total_fixed_cost_excl_vat AS billed_total_fixed_cost_excl_vat,
        c.total_energy_cost_excl_vat AS billed_total_energy_cost_excl_vat,
        c.total_time_cost_excl_vat AS billed_total_time_cost_excl_vat,
        c.total_parking_cost_excl_vat AS billed_total_parking_cost_excl_vat,
        c.total_reservation_cost_excl_vat AS billed_total_reservation_cost_excl_vat
    FROM priced_cdrs p
    JOIN cdrs c USING (cdr_key)
    LEFT JOIN priced_tariffs t ON t.run_id = p.run_id AND t.tariff_ref = p.tariff_ref;
