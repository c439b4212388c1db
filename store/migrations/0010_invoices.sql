-- 0010: issued invoices and credit notes (store/invoices.go implements
-- invoicing.Ledger). Append-only: the store never updates or deletes a row
-- of these tables; a correction is a new credit note. Each document states
-- the previous document's hash, so a changed or missing row is found by
-- the next issuance (invoicing.VerifyChain).

-- One row per issued document, in the issuer's chain order.
CREATE TABLE invoice_documents (
    issuer          VARCHAR NOT NULL, -- 'CC*PID' of the issuing party
    position        BIGINT  NOT NULL, -- 1, 2, 3... in the issuer's chain, without gaps
    series          VARCHAR NOT NULL, -- the number prefix
    sequence        BIGINT  NOT NULL, -- 1, 2, 3... in the issuer's series, without gaps
    number          VARCHAR NOT NULL, -- series || sequence (6 digits)
    kind            VARCHAR NOT NULL, -- 'invoice' or 'credit_note'
    partner         VARCHAR NOT NULL, -- 'CC*PID' of the other party
    period          VARCHAR NOT NULL, -- '2026-10'
    currency        VARCHAR NOT NULL,
    issue_date      DATE    NOT NULL,
    document        VARCHAR NOT NULL, -- the canonical JSON, byte for byte (the .json rendering)
    sha256          BLOB    NOT NULL, -- SHA-256 of document
    previous_sha256 BLOB    NOT NULL, -- sha256 of the issuer's document at position - 1 (32 zero bytes first)
    inputs_sha256   BLOB    NOT NULL, -- digest of the input snapshot and policy
    policy          VARCHAR NOT NULL, -- the document policy (grouping, disputes, rounding, tax method)
    stored_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, position),
    UNIQUE (issuer, series, sequence)
);

-- The snapshot of an issued document's inputs: one row per CDR and line
-- charging it (line 0: a disputed CDR left out). Amounts are exact, before
-- tax, at the pricing kernel's scale.
CREATE TABLE invoice_inputs (
    issuer              VARCHAR NOT NULL,
    position            BIGINT  NOT NULL, -- invoice_documents.position
    line                INTEGER NOT NULL,
    country_code        VARCHAR NOT NULL,
    party_id            VARCHAR NOT NULL,
    cdr_id              VARCHAR NOT NULL,
    body_sha256         BLOB    NOT NULL, -- cdrs.body_sha256 of the CDR invoiced
    tariff_country_code VARCHAR,
    tariff_party_id     VARCHAR,
    tariff_id           VARCHAR,
    tariff_last_updated TIMESTAMPTZ,      -- with the three above: the tariff version
    pricing_policy      VARCHAR,
    net                 DECIMAL(38,10) NOT NULL,
    disputed            BOOLEAN NOT NULL
);
