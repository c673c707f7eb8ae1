-- Idempotency-Key on the API: what a request sent with a key answered, per
-- API token, kept 24 hours so that a retry gets the same answer instead of a
-- second announcement. The row is claimed, the work done and its answer kept
-- in one transaction, so `status` and `body` are NULL only inside it.
-- Expired rows count as absent and are purged as new keys are written.
CREATE TABLE idempotency_keys (
    token_hash      TEXT NOT NULL REFERENCES api_tokens(token_hash) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          INTEGER,
    body            TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (token_hash, idempotency_key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
