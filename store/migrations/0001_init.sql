-- 0001: the first schema. Conventions:
--   * identities (country_code, party_id, id) are stored upper-cased (ocpi.Key);
--     the spelling as sent is kept in *_as_sent columns when it differs.
--   * money, volumes and prices are DECIMAL(18,6) (exact, 12 integer digits).
--   * sha256 columns are the 32 raw bytes (BLOB); hex() them for display.
--   * no PRIMARY KEY / UNIQUE constraints on bulk tables: uniqueness is decided
--     by Save (in-memory indexes, one writer) and an ART index on every bulk
--     insert would halve ingest speed.

-- The bytes live in the raw archive (<db>.raw/NNNNNNNN.seg, see
-- rawarchive.go); this is where each payload is.
CREATE TABLE raw_payloads (
    sha256            BLOB        NOT NULL, -- of the bytes exactly as received
    size              BIGINT      NOT NULL,
    segment           INTEGER     NOT NULL,
    byte_offset       BIGINT      NOT NULL, -- of the bytes, after the record header
    first_received_at TIMESTAMPTZ NOT NULL
);

-- One row per payload received, even when the bytes were seen before.
CREATE TABLE receipts (
    sha256      BLOB        NOT NULL,
    channel     VARCHAR     NOT NULL,
    source_name VARCHAR,
    partner     VARCHAR,
    position    BIGINT      NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    kind        VARCHAR,
    version     VARCHAR,
    outcome     VARCHAR     NOT NULL
);

CREATE TABLE dimension_types (
    code UTINYINT NOT NULL PRIMARY KEY,
    name VARCHAR  NOT NULL UNIQUE
);
INSERT INTO dimension_types VALUES
    (1, 'ENERGY'), (2, 'TIME'), (3, 'PARKING_TIME'), (4, 'RESERVATION_TIME'),
    (5, 'MIN_CURRENT'), (6, 'MAX_CURRENT'), (7, 'MIN_POWER'), (8, 'MAX_POWER'),
    (9, 'FLAT'), (10, 'CURRENT'), (11, 'ENERGY_EXPORT'), (12, 'ENERGY_IMPORT'),
    (13, 'POWER'), (14, 'STATE_OF_CHARGE');

CREATE TABLE cdrs (
    cdr_key                    BIGINT      NOT NULL,
    country_code               VARCHAR     NOT NULL,
    party_id                   VARCHAR     NOT NULL,
    id                         VARCHAR     NOT NULL,
    country_code_as_sent       VARCHAR,
    party_id_as_sent           VARCHAR,
    id_as_sent                 VARCHAR,
    version                    VARCHAR     NOT NULL,
    body_sha256                BLOB        NOT NULL, -- canonical hash, see canonical.go
    raw_sha256                 BLOB        NOT NULL,
    start_date_time            TIMESTAMPTZ,
    end_date_time              TIMESTAMPTZ,
    session_id                 VARCHAR,
    token_country_code         VARCHAR,
    token_party_id             VARCHAR,
    token_uid                  VARCHAR,
    token_type                 VARCHAR,
    token_contract_id          VARCHAR,
    auth_method                VARCHAR,
    authorization_reference    VARCHAR,
    location_id                VARCHAR,
    location_name              VARCHAR,
    location_address           VARCHAR,
    location_city              VARCHAR,
    location_postal_code       VARCHAR,
    location_state             VARCHAR,
    location_country           VARCHAR,
    location_latitude          VARCHAR,
    location_longitude         VARCHAR,
    evse_uid                   VARCHAR,
    evse_id                    VARCHAR,
    connector_id               VARCHAR,
    connector_standard         VARCHAR,
    connector_format           VARCHAR,
    connector_power_type       VARCHAR,
    location_time_zone         VARCHAR,
    location_tariff_ids        VARCHAR[],
    meter_id                   VARCHAR,
    currency                   VARCHAR,
    signed_data                VARCHAR, -- the JSON as received
    total_cost_excl_vat        DECIMAL(18,6),
    total_cost_incl_vat        DECIMAL(18,6),
    total_fixed_cost_excl_vat  DECIMAL(18,6),
    total_fixed_cost_incl_vat  DECIMAL(18,6),
    total_energy               DECIMAL(18,6),
    total_energy_cost_excl_vat DECIMAL(18,6),
    total_energy_cost_incl_vat DECIMAL(18,6),
    total_time                 DECIMAL(18,6),
    total_time_cost_excl_vat   DECIMAL(18,6),
    total_time_cost_incl_vat   DECIMAL(18,6),
    total_parking_time         DECIMAL(18,6),
    total_parking_cost_excl_vat     DECIMAL(18,6),
    total_parking_cost_incl_vat     DECIMAL(18,6),
    total_reservation_cost_excl_vat DECIMAL(18,6),
    total_reservation_cost_incl_vat DECIMAL(18,6),
    taxes                      VARCHAR, -- 2.3.0 TaxAmount lists as JSON, NULL when none
    remark                     VARCHAR,
    invoice_reference_id       VARCHAR,
    credit                     BOOLEAN  NOT NULL,
    credit_reference_id        VARCHAR,
    home_charging_compensation BOOLEAN  NOT NULL,
    last_updated               TIMESTAMPTZ,
    received_at                TIMESTAMPTZ NOT NULL,
    blocking                   BOOLEAN  NOT NULL -- a finding blocks pricing
);

-- One row per period with what pricing reads: its end (the next period's
-- start, the CDR's end for the last) and the volumes of cdr_dimensions
-- pivoted per type (NULL when absent; a repeated type: ENERGY and *_TIME
-- summed, MIN_* least, MAX_* greatest). cdr_dimensions stays the faithful
-- record of what was sent.
CREATE TABLE charging_periods (
    cdr_key          BIGINT      NOT NULL,
    period_index     USMALLINT   NOT NULL,
    start_date_time  TIMESTAMPTZ,
    end_date_time    TIMESTAMPTZ,
    tariff_id        VARCHAR,
    energy           DECIMAL(18,6),
    time             DECIMAL(18,6),
    parking_time     DECIMAL(18,6),
    reservation_time DECIMAL(18,6),
    min_current      DECIMAL(18,6),
    max_current      DECIMAL(18,6),
    min_power        DECIMAL(18,6),
    max_power        DECIMAL(18,6)
);

CREATE TABLE cdr_dimensions (
    cdr_key         BIGINT        NOT NULL,
    period_index    USMALLINT     NOT NULL,
    dimension_index USMALLINT     NOT NULL,
    type_code       UTINYINT      NOT NULL, -- dimension_types.code
    volume          DECIMAL(18,6) NOT NULL
);

CREATE VIEW cdr_dimensions_named AS
    SELECT d.cdr_key, d.period_index, d.dimension_index, t.name AS type, d.volume
    FROM cdr_dimensions d JOIN dimension_types t ON t.code = d.type_code;

-- Tariff contents, content-addressed: published versions and tariffs embedded
-- in CDRs point here, so a tariff embedded in a million CDRs is stored once.
CREATE TABLE tariff_bodies (
    tariff_key      BIGINT  NOT NULL,
    sha256          BLOB    NOT NULL, -- canonical hash
    version         VARCHAR NOT NULL,
    country_code    VARCHAR,          -- as sent
    party_id        VARCHAR,
    id              VARCHAR,
    currency        VARCHAR,
    type            VARCHAR,
    alt_text        VARCHAR,          -- JSON [{"language","text"}]
    alt_url         VARCHAR,
    min_price_excl_vat DECIMAL(18,6),
    min_price_incl_vat DECIMAL(18,6),
    max_price_excl_vat DECIMAL(18,6),
    max_price_incl_vat DECIMAL(18,6),
    tax_included    VARCHAR,
    start_date_time TIMESTAMPTZ,
    end_date_time   TIMESTAMPTZ,
    energy_mix      VARCHAR,          -- JSON as received
    last_updated    TIMESTAMPTZ
);

CREATE TABLE tariff_elements (
    tariff_key       BIGINT    NOT NULL,
    element_index    USMALLINT NOT NULL,
    has_restrictions BOOLEAN   NOT NULL,
    start_time       VARCHAR,
    end_time         VARCHAR,
    start_date       VARCHAR,
    end_date         VARCHAR,
    min_kwh          DECIMAL(18,6),
    max_kwh          DECIMAL(18,6),
    min_current      DECIMAL(18,6),
    max_current      DECIMAL(18,6),
    min_power        DECIMAL(18,6),
    max_power        DECIMAL(18,6),
    min_duration     BIGINT,
    max_duration     BIGINT,
    day_of_week      VARCHAR[],
    reservation      VARCHAR
);

CREATE TABLE tariff_components (
    tariff_key      BIGINT        NOT NULL,
    element_index   USMALLINT     NOT NULL,
    component_index USMALLINT     NOT NULL,
    type            VARCHAR       NOT NULL,
    price           DECIMAL(18,6) NOT NULL,
    vat             DECIMAL(18,6),
    step_size       BIGINT        NOT NULL
);

-- Published tariff versions: append-only, one row per (identity, last_updated).
CREATE TABLE tariffs (
    country_code VARCHAR     NOT NULL,
    party_id     VARCHAR     NOT NULL,
    id           VARCHAR     NOT NULL,
    last_updated TIMESTAMPTZ NOT NULL,
    tariff_key   BIGINT      NOT NULL,
    version      VARCHAR     NOT NULL,
    raw_sha256   BLOB        NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL
);

-- A DELETE from the owner withdraws a tariff; its versions stay.
CREATE TABLE tariff_withdrawals (
    country_code VARCHAR     NOT NULL,
    party_id     VARCHAR     NOT NULL,
    id           VARCHAR     NOT NULL,
    withdrawn_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cdr_tariffs (
    cdr_key    BIGINT    NOT NULL,
    position   USMALLINT NOT NULL,
    tariff_key BIGINT    NOT NULL
);

CREATE TABLE locations (
    location_key         BIGINT      NOT NULL,
    country_code         VARCHAR     NOT NULL,
    party_id             VARCHAR     NOT NULL,
    id                   VARCHAR     NOT NULL,
    country_code_as_sent VARCHAR,
    party_id_as_sent     VARCHAR,
    id_as_sent           VARCHAR,
    last_updated         TIMESTAMPTZ NOT NULL,
    version              VARCHAR     NOT NULL,
    body_sha256          BLOB        NOT NULL,
    raw_sha256           BLOB        NOT NULL,
    received_at          TIMESTAMPTZ NOT NULL,
    publish              BOOLEAN,
    name                 VARCHAR,
    address              VARCHAR,
    city                 VARCHAR,
    postal_code          VARCHAR,
    state                VARCHAR,
    country              VARCHAR,
    latitude             VARCHAR,
    longitude            VARCHAR,
    time_zone            VARCHAR
);

CREATE TABLE location_evses (
    location_key BIGINT    NOT NULL,
    evse_index   USMALLINT NOT NULL,
    uid          VARCHAR,
    evse_id      VARCHAR,
    status       VARCHAR,
    last_updated TIMESTAMPTZ
);

CREATE TABLE location_connectors (
    location_key       BIGINT    NOT NULL,
    evse_index         USMALLINT NOT NULL,
    connector_index    USMALLINT NOT NULL,
    id                 VARCHAR,
    standard           VARCHAR,
    format             VARCHAR,
    power_type         VARCHAR,
    max_voltage        BIGINT    NOT NULL,
    max_amperage       BIGINT    NOT NULL,
    max_electric_power BIGINT,
    tariff_ids         VARCHAR[],
    last_updated       TIMESTAMPTZ
);

-- 2.3.0 invoice reconciliation records, versioned like tariffs.
CREATE TABLE invoice_reconciliations (
    irr_key              BIGINT      NOT NULL,
    country_code         VARCHAR     NOT NULL,
    party_id             VARCHAR     NOT NULL,
    id                   VARCHAR     NOT NULL,
    id_as_sent           VARCHAR,
    invoice_id           VARCHAR,
    last_updated         TIMESTAMPTZ NOT NULL,
    version              VARCHAR     NOT NULL,
    body_sha256          BLOB        NOT NULL,
    raw_sha256           BLOB        NOT NULL,
    received_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE invoice_reconciliation_cdrs (
    irr_key  BIGINT    NOT NULL,
    position INTEGER   NOT NULL,
    cdr_id   VARCHAR   NOT NULL -- as sent; join on upper(cdr_id)
);

-- Every problem of a stored object (blocking or not).
CREATE TABLE findings (
    kind         VARCHAR NOT NULL,
    object_key   BIGINT  NOT NULL, -- cdr_key, tariff_key, location_key or irr_key
    country_code VARCHAR,
    party_id     VARCHAR,
    id           VARCHAR,
    path         VARCHAR,
    rule         VARCHAR NOT NULL,
    message      VARCHAR,
    blocking     BOOLEAN NOT NULL
);

-- One row per problem of a payload that could not be decoded or identified.
CREATE TABLE rejects (
    raw_sha256  BLOB        NOT NULL, -- raw_payloads.sha256
    channel     VARCHAR     NOT NULL,
    source_name VARCHAR,
    partner     VARCHAR,
    position    BIGINT      NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    kind        VARCHAR,
    version     VARCHAR,
    path        VARCHAR,
    rule        VARCHAR     NOT NULL,
    message     VARCHAR
);

-- A different body under an identity already stored, refused.
CREATE TABLE conflicts (
    kind            VARCHAR     NOT NULL,
    country_code    VARCHAR     NOT NULL,
    party_id        VARCHAR     NOT NULL,
    id              VARCHAR     NOT NULL,
    last_updated    TIMESTAMPTZ, -- the version, for tariffs/locations/IRRs
    stored_sha256   BLOB        NOT NULL,
    refused_sha256  BLOB        NOT NULL,
    raw_sha256      BLOB        NOT NULL, -- the refused payload in raw_payloads
    detected_at     TIMESTAMPTZ NOT NULL
);
