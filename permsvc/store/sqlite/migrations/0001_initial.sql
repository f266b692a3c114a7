-- permsvc schema v1 (SQLite). Applied once, in one transaction, by `permsvc migrate`.
-- Timestamps are integer microseconds since the Unix epoch (UTC).

CREATE TABLE stores (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);

-- The per-store revision counter, bumped inside every write transaction (BEGIN IMMEDIATE holds
-- the database write lock, so commit order is revision order).
CREATE TABLE store_revisions (
    store_id  TEXT    PRIMARY KEY REFERENCES stores (id),
    revision  INTEGER NOT NULL DEFAULT 0 CHECK (revision >= 0)
);

-- One row per committed revision: when it committed (ReadChanges' start_time finds its first
-- revision here instead of through an index on every changelog row).
CREATE TABLE revision_log (
    store_id      TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    committed_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, revision)
) WITHOUT ROWID;

CREATE INDEX revision_log_time ON revision_log (store_id, committed_at);

CREATE TABLE authorization_models (
    store_id        TEXT    NOT NULL REFERENCES stores (id),
    id              TEXT    NOT NULL,
    schema_version  TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    dsl             TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (store_id, id)
);

CREATE TRIGGER authorization_models_immutable BEFORE UPDATE ON authorization_models
BEGIN
    SELECT RAISE(ABORT, 'authorization_models rows are immutable');
END;

CREATE TABLE assertions (
    store_id    TEXT    NOT NULL,
    model_id    TEXT    NOT NULL,
    assertions  TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, model_id),
    FOREIGN KEY (store_id, model_id) REFERENCES authorization_models (store_id, id)
);

-- AUTOINCREMENT keeps `seq` (the Read API order) from reusing the id of a deleted row.
CREATE TABLE tuples (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id           TEXT    NOT NULL,
    object_type        TEXT    NOT NULL,
    object_id          TEXT    NOT NULL,
    relation           TEXT    NOT NULL,
    user_type          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL,
    user_relation      TEXT    NOT NULL DEFAULT '',
    condition_name     TEXT,
    condition_context  TEXT,
    revision           INTEGER NOT NULL,
    inserted_at        INTEGER NOT NULL
);

CREATE UNIQUE INDEX tuples_forward ON tuples (store_id, object_type, object_id, relation, user_type, user_id, user_relation);
CREATE INDEX tuples_reverse ON tuples (store_id, object_type, relation, user_type, user_id, user_relation, object_id);

CREATE TABLE changelog (
    store_id           TEXT    NOT NULL,
    revision           INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    operation          TEXT    NOT NULL CHECK (operation IN ('write', 'delete')),
    object_type        TEXT    NOT NULL,
    object_id          TEXT    NOT NULL,
    relation           TEXT    NOT NULL,
    user_type          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL,
    user_relation      TEXT    NOT NULL DEFAULT '',
    condition_name     TEXT,
    condition_context  TEXT,
    committed_at       INTEGER NOT NULL,
    PRIMARY KEY (store_id, revision, seq)
) WITHOUT ROWID;

CREATE INDEX changelog_type ON changelog (store_id, object_type, revision, seq);

CREATE TRIGGER changelog_append_only BEFORE UPDATE ON changelog
BEGIN
    SELECT RAISE(ABORT, 'changelog rows are append-only');
END;
