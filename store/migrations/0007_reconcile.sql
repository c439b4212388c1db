-- 0007: reconciliation results (reconcile.go) and disputes (disputes.go).
-- A reconcile run of a partner's period replaces what the previous run of
-- the same run_id wrote (reconcile_runs, reconcile_cdrs, reconcile_findings,
-- reconcile_invoice_lines); disputes and their events are never rewritten:
-- one dispute per CDR identity, raised once, and its lifecycle an
-- append-only list of events.

CREATE TABLE reconcile_runs (
    run_id         VARCHAR     NOT NULL, -- "reconcile:PERIOD/CC-PID"
    period         VARCHAR     NOT NULL,
    partner        VARCHAR     NOT NULL,
    finished_at    TIMESTAMPTZ NOT NULL,
    cdrs           BIGINT      NOT NULL,
    ok             BIGINT      NOT NULL,
    mismatch       BIGINT      NOT NULL,
    not_verifiable BIGINT      NOT NULL,
    disputed       BIGINT      NOT NULL,
    report         VARCHAR     NOT NULL  -- the JSON of `reconcile --json`
);

CREATE TABLE reconcile_cdrs (
    run_id          VARCHAR NOT NULL,
    country_code    VARCHAR NOT NULL,
    party_id        VARCHAR NOT NULL,
    cdr_id          VARCHAR NOT NULL,
    verdict         VARCHAR NOT NULL, -- OK, MISMATCH, NOT_VERIFIABLE
    reasons         VARCHAR[] NOT NULL,
    currency        VARCHAR,
    billed_excl     DECIMAL(18,6),
    billed_incl     DECIMAL(18,6),
    recomputed_excl DECIMAL(18,6),
    recomputed_incl DECIMAL(18,6),
    difference_excl DECIMAL(18,6),
    difference_incl DECIMAL(18,6),
    note            VARCHAR
);

CREATE TABLE reconcile_findings (
    run_id       VARCHAR NOT NULL,
    country_code VARCHAR NOT NULL,
    party_id     VARCHAR NOT NULL,
    cdr_id       VARCHAR NOT NULL,
    code         VARCHAR NOT NULL,
    severity     VARCHAR NOT NULL,
    field        VARCHAR NOT NULL,
    message      VARCHAR NOT NULL,
    blocking     BOOLEAN NOT NULL
);

CREATE TABLE reconcile_invoice_lines (
    run_id  VARCHAR NOT NULL,
    file    VARCHAR NOT NULL,
    line    INTEGER NOT NULL,
    cdr_id  VARCHAR NOT NULL,
    class   VARCHAR NOT NULL, -- EXACT, WITHIN_TOLERANCE, MISMATCH, PARTNER_ONLY, DUPLICATE
    note    VARCHAR
);

CREATE TABLE disputes (
    country_code    VARCHAR     NOT NULL,
    party_id        VARCHAR     NOT NULL,
    cdr_id          VARCHAR     NOT NULL, -- upper-cased identity, as cdrs.id
    period          VARCHAR     NOT NULL,
    currency        VARCHAR,
    verdict         VARCHAR     NOT NULL,
    reasons         VARCHAR[]   NOT NULL,
    codes           VARCHAR[]   NOT NULL, -- the error findings
    billed_excl     DECIMAL(18,6),
    billed_incl     DECIMAL(18,6),
    recomputed_excl DECIMAL(18,6),
    recomputed_incl DECIMAL(18,6),
    in_dispute_excl DECIMAL(18,6),
    in_dispute_incl DECIMAL(18,6),
    evidence        VARCHAR     NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE dispute_events (
    country_code VARCHAR     NOT NULL,
    party_id     VARCHAR     NOT NULL,
    cdr_id       VARCHAR     NOT NULL,
    seq          INTEGER     NOT NULL,
    state        VARCHAR     NOT NULL, -- raised, sent, accepted, declined, revised, written_off
    event_at     TIMESTAMPTZ NOT NULL,
    event_by     VARCHAR     NOT NULL,
    note         VARCHAR,
    credit_cdr   VARCHAR
);
