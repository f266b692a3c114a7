-- permsvc schema v1 (PostgreSQL). Applied once, in one transaction, by `permsvc migrate`.
-- Identifier columns use COLLATE "C": byte order is what ids mean (ULIDs sort by time), and it
-- lets every index comparison be a memcmp instead of a locale-aware strcoll.

CREATE TABLE stores (
    id          text COLLATE "C" PRIMARY KEY CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

-- The per-store revision counter. Writers lock this row (SELECT ... FOR UPDATE) for the whole
-- write transaction, so writes to one store are serialised and commit order is revision order.
-- `last_seq` numbers the store's tuple rows (the Read API order) under the same lock.
CREATE TABLE store_revisions (
    store_id  text COLLATE "C" PRIMARY KEY REFERENCES stores (id),
    revision  bigint NOT NULL DEFAULT 0 CHECK (revision >= 0),
    last_seq  bigint NOT NULL DEFAULT 0
);

-- One row per committed revision: when it committed (ReadChanges' start_time finds its first
-- revision here instead of through an index on every changelog row).
CREATE TABLE revision_log (
    store_id      text COLLATE "C" NOT NULL,
    revision      bigint      NOT NULL,
    committed_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, revision)
);

CREATE INDEX revision_log_time ON revision_log (store_id, committed_at);

-- Immutable: rows are only ever inserted (the trigger below refuses updates).
CREATE TABLE authorization_models (
    store_id        text COLLATE "C" NOT NULL REFERENCES stores (id),
    id              text COLLATE "C" NOT NULL CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    schema_version  text        NOT NULL,
    model           jsonb       NOT NULL,
    dsl             text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (store_id, id)
);

CREATE FUNCTION permsvc_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER authorization_models_immutable BEFORE UPDATE ON authorization_models
    FOR EACH ROW EXECUTE FUNCTION permsvc_refuse_update();

CREATE TABLE assertions (
    store_id    text COLLATE "C" NOT NULL,
    model_id    text COLLATE "C" NOT NULL,
    assertions  jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, model_id),
    FOREIGN KEY (store_id, model_id) REFERENCES authorization_models (store_id, id)
);

-- One row per stored tuple. The user is split into type / id / relation ('' when not a userset)
-- so both the forward index (object#relation -> users) and the reverse index
-- (user -> objects of a type) are plain b-tree prefixes. `seq` orders the Read API (oldest write
-- first, numbered per store from store_revisions.last_seq); `revision` is the store revision that
-- wrote the row.
CREATE TABLE tuples (
    store_id           text COLLATE "C" NOT NULL,
    object_type        text COLLATE "C" NOT NULL,
    object_id          text COLLATE "C" NOT NULL,
    relation           text COLLATE "C" NOT NULL,
    user_type          text COLLATE "C" NOT NULL,
    user_id            text COLLATE "C" NOT NULL,
    user_relation      text COLLATE "C" NOT NULL DEFAULT '',
    condition_name     text,
    condition_context  jsonb,
    seq                bigint      NOT NULL,
    revision           bigint      NOT NULL,
    inserted_at        timestamptz NOT NULL,
    CONSTRAINT tuples_pkey PRIMARY KEY (store_id, object_type, object_id, relation, user_type, user_id, user_relation)
);

CREATE INDEX tuples_reverse ON tuples (store_id, object_type, relation, user_type, user_id, user_relation, object_id);
CREATE UNIQUE INDEX tuples_store_seq ON tuples (store_id, seq);

-- Append-only: one row per applied operation, numbered (revision, seq) within the store.
CREATE TABLE changelog (
    store_id           text COLLATE "C" NOT NULL,
    revision           bigint      NOT NULL,
    seq                integer     NOT NULL,
    operation          text        NOT NULL CHECK (operation IN ('write', 'delete')),
    object_type        text COLLATE "C" NOT NULL,
    object_id          text COLLATE "C" NOT NULL,
    relation           text COLLATE "C" NOT NULL,
    user_type          text COLLATE "C" NOT NULL,
    user_id            text COLLATE "C" NOT NULL,
    user_relation      text COLLATE "C" NOT NULL DEFAULT '',
    condition_name     text,
    condition_context  jsonb,
    committed_at       timestamptz NOT NULL,
    PRIMARY KEY (store_id, revision, seq)
);

CREATE INDEX changelog_type ON changelog (store_id, object_type, revision, seq);

CREATE TRIGGER changelog_append_only BEFORE UPDATE ON changelog
    FOR EACH ROW EXECUTE FUNCTION permsvc_refuse_update();
