-- permsvc schema v3 (PostgreSQL): per-store claim specs of the claim feed (POST /v1/claims).
-- `document` is the validated spec as JSON text, kept byte for byte as validated.
CREATE TABLE claim_specs (
    store_id    text        PRIMARY KEY,
    document    text        NOT NULL,
    updated_at  timestamptz NOT NULL
);
