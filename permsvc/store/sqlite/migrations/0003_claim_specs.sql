-- permsvc schema v3 (SQLite): per-store claim specs of the claim feed (POST /v1/claims).
-- `document` is the validated spec as JSON text; updated_at is microseconds since the epoch (UTC).
CREATE TABLE claim_specs (
    store_id    TEXT    PRIMARY KEY,
    document    TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
