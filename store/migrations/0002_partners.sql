-- 0002: partner connections (OCPI credentials module) and pull checkpoints.
--   * tokens are never stored: token_*_sha256 are SHA-256 digests of the
--     token text, token_b_sealed is token B encrypted with a key kept outside
--     the database (roamsettle needs B in clear to call the partner).
--   * a partner is never deleted: removal and OCPI unregister set
--     unregistered_at and clear the token digests.

CREATE SEQUENCE partner_ids START 1;

CREATE TABLE partners (
    partner_id      BIGINT      NOT NULL PRIMARY KEY DEFAULT nextval('partner_ids'),
    country_code    VARCHAR     NOT NULL, -- upper-cased
    party_id        VARCHAR     NOT NULL,
    role            VARCHAR     NOT NULL,
    name            VARCHAR,
    versions_url    VARCHAR,
    version         VARCHAR,              -- chosen (or wanted) OCPI version
    token_a_sha256  BLOB,                 -- registration token we handed out
    token_c_sha256  BLOB,                 -- token we issued: the partner calls us with it
    token_b_sha256  BLOB,                 -- token the partner issued: we call it with it
    token_b_sealed  BLOB,
    auth_mode       VARCHAR     NOT NULL DEFAULT 'auto', -- raw, base64, auto
    endpoints       VARCHAR,              -- JSON [{"identifier","role","url"}]
    roles           VARCHAR,              -- JSON CredentialsRole list the partner may write for
    created_at      TIMESTAMPTZ NOT NULL,
    registered_at   TIMESTAMPTZ,
    unregistered_at TIMESTAMPTZ
);

-- Where a pull stopped: the next page to fetch (a crash resumes there) and the
-- date_to of the last completed window (the next window starts there).
CREATE TABLE pull_checkpoints (
    partner_id BIGINT      NOT NULL,
    module     VARCHAR     NOT NULL,
    watermark  TIMESTAMPTZ,
    next_url   VARCHAR,
    window_to  TIMESTAMPTZ,           -- date_to of the window being crawled
    pages      BIGINT      NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, module)
);
