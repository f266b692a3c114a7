-- permsvc schema v6 (SQLite): the latest in-memory index snapshot of each store
-- (permsvc.store.index.snapshot), so a starting process loads it and catches up from the changelog
-- after `revision` instead of reading every tuple. `format` names the encoding (readers ignore one
-- they do not know); the bytes are split into chunks. created_at is microseconds since the epoch.
CREATE TABLE index_snapshots (
    store_id    TEXT    PRIMARY KEY,
    revision    INTEGER NOT NULL CHECK (revision >= 0),
    format      TEXT    NOT NULL,
    tuples      INTEGER NOT NULL CHECK (tuples >= 0),
    chunks      INTEGER NOT NULL CHECK (chunks >= 0),
    created_at  INTEGER NOT NULL
);

CREATE TABLE index_snapshot_chunks (
    store_id  TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    PRIMARY KEY (store_id, seq)
);
