-- 0004: an OCPI DELETE of a 2.3.0 invoice reconciliation record withdraws it,
-- like tariff_withdrawals for tariffs: its versions stay, since partner
-- invoices were matched against them.

CREATE TABLE invoice_reconciliation_withdrawals (
    country_code VARCHAR     NOT NULL,
    party_id     VARCHAR     NOT NULL,
    id           VARCHAR     NOT NULL,
    withdrawn_at TIMESTAMPTZ NOT NULL
);
