-- permsvc schema v2 (PostgreSQL): API keys and the audit log.

-- Only a hash of each key's secret is stored (sha256$<hex> or scrypt$<salt>$<hex>).
CREATE TABLE api_keys (
    id             text        PRIMARY KEY,
    hashed_secret  text        NOT NULL,
    scope          text        NOT NULL CHECK (scope IN ('admin', 'check', 'claims')),
    store_id       text,
    name           text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);

-- Append-only; `detail` holds no secrets or tokens. Ids increase in append order (the read order).
CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id    text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    actor_kind  text        NOT NULL,
    action      text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id  text        NOT NULL DEFAULT '',
    revision    bigint
);

CREATE INDEX audit_log_store ON audit_log (store_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
