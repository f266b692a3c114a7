-- permsvc schema v2 (SQLite): API keys and the audit log.
-- Timestamps are integer microseconds since the Unix epoch (UTC), as in v1.

-- Only a hash of each key's secret is stored (sha256$<hex> or scrypt$<salt>$<hex>).
CREATE TABLE api_keys (
    id             TEXT    PRIMARY KEY,
    hashed_secret  TEXT    NOT NULL,
    scope          TEXT    NOT NULL CHECK (scope IN ('admin', 'check', 'claims')),
    store_id       TEXT,
    name           TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);

-- Append-only; `detail` is a JSON object without secrets or tokens. AUTOINCREMENT keeps ids
-- increasing in append order (the read order) even if rows were ever removed.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id    TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '{}',
    request_id  TEXT    NOT NULL DEFAULT '',
    revision    INTEGER
);

CREATE INDEX audit_log_store ON audit_log (store_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are immutable');
END;
