-- permsvc schema v4 (SQLite): an API key's `scope` holds its roles, space-separated (check, read,
-- write, admin, claims), instead of one of three scopes. SQLite cannot drop a CHECK constraint, so
-- the table is rebuilt; the role names themselves are validated by permsvc.auth.roles.
CREATE TABLE api_keys_v4 (
    id             TEXT    PRIMARY KEY,
    hashed_secret  TEXT    NOT NULL,
    scope          TEXT    NOT NULL CHECK (length(trim(scope)) > 0),
    store_id       TEXT,
    name           TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);

INSERT INTO api_keys_v4 (id, hashed_secret, scope, store_id, name, created_at, revoked_at)
SELECT id, hashed_secret, scope, store_id, name, created_at, revoked_at FROM api_keys;

DROP TABLE api_keys;

ALTER TABLE api_keys_v4 RENAME TO api_keys;
