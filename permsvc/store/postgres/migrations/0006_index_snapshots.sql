-- permsvc schema v6 (PostgreSQL): the latest in-memory index snapshot of each store
-- (permsvc.store.index.snapshot), so a starting replica loads it and catches up from the changelog
-- after `revision` instead of reading every tuple. `format` names the encoding (readers ignore one
-- they do not know); the bytes are split into chunks (bytea values are read whole), stored
-- uncompressed by PostgreSQL since the payload is already compressed.
CREATE TABLE index_snapshots (
    store_id    text COLLATE "C" PRIMARY KEY,
    revision    bigint      NOT NULL CHECK (revision >= 0),
    format      text        NOT NULL,
    tuples      bigint      NOT NULL CHECK (tuples >= 0),
    chunks      integer     NOT NULL CHECK (chunks >= 0),
    created_at  timestamptz NOT NULL
);

CREATE TABLE index_snapshot_chunks (
    store_id  text COLLATE "C" NOT NULL REFERENCES index_snapshots (store_id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea   NOT NULL,
    PRIMARY KEY (store_id, seq)
);

ALTER TABLE index_snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
