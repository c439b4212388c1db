-- 0008: the run ledger (store/runs.go): one row per settlement run identity,
-- for `schedule` (schedule.Ledger) and `roamsettle run` / `runs`.
--   * The identity (period, partner, kind, as_of) is a unique key, so two
--     triggers of one run cannot both start it, whatever locks say. NULLs
--     never collide in a unique key, so every part is a value: partner ''
--     is the all-partners scope, and a final run's as_of is the zero time
--     0001-01-01 00:00:00 UTC (a provisional run's is its tick, to the
--     second).
--   * status: running, succeeded, failed, canceled, interrupted. A new
--     attempt of a failed, canceled or interrupted run reuses its row
--     (attempts + 1); run_attempts keeps every attempt's outcome. Rows left
--     'running' when a process died are marked interrupted when the next
--     process opens the database (one process owns it).
--   * inputs and policy are JSON text as the run command hands them;
--     run_steps.counts is a JSON object of integers, run_steps.amounts a JSON
--     list of {"name","currency","amount"} with the amount as a decimal
--     string (exact money, never a float).
CREATE SEQUENCE runs_run_no START 1;

CREATE TABLE runs (
    run_no     BIGINT      NOT NULL PRIMARY KEY DEFAULT nextval('runs_run_no'),
    period     VARCHAR     NOT NULL, -- 'YYYY-MM'
    partner    VARCHAR     NOT NULL, -- 'CC-PID', '' = every partner
    kind       VARCHAR     NOT NULL, -- 'provisional', 'final', ...
    as_of      TIMESTAMPTZ NOT NULL, -- final: 0001-01-01 00:00:00+00
    origin     VARCHAR     NOT NULL, -- of the latest attempt: scheduled, catch-up, manual, ...
    status     VARCHAR     NOT NULL,
    attempts   INTEGER     NOT NULL,
    started_at TIMESTAMPTZ NOT NULL, -- of the latest attempt
    ended_at   TIMESTAMPTZ,
    error      VARCHAR,
    panicked   BOOLEAN     NOT NULL,
    pid        INTEGER     NOT NULL, -- the process of the latest attempt
    inputs     VARCHAR,
    policy     VARCHAR,
    UNIQUE (period, partner, kind, as_of)
);

CREATE TABLE run_attempts (
    run_no     BIGINT      NOT NULL,
    attempt    INTEGER     NOT NULL,
    origin     VARCHAR     NOT NULL,
    status     VARCHAR     NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    error      VARCHAR,
    panicked   BOOLEAN     NOT NULL,
    pid        INTEGER     NOT NULL,
    PRIMARY KEY (run_no, attempt)
);

-- What each step of a run did; a step done again by a later attempt
-- replaces its row.
CREATE TABLE run_steps (
    run_no     BIGINT      NOT NULL,
    step_index INTEGER     NOT NULL, -- the order the steps ran in
    name       VARCHAR     NOT NULL,
    attempt    INTEGER     NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ NOT NULL,
    counts     VARCHAR     NOT NULL,
    amounts    VARCHAR     NOT NULL,
    PRIMARY KEY (run_no, name)
);

-- The files a run wrote (documents, reports), with their size and SHA-256.
CREATE TABLE run_outputs (
    run_no  BIGINT  NOT NULL,
    path    VARCHAR NOT NULL,
    step    VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    bytes   BIGINT  NOT NULL,
    sha256  VARCHAR NOT NULL, -- hex
    PRIMARY KEY (run_no, path)
);
