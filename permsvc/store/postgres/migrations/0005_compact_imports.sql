-- permsvc schema v5 (PostgreSQL): a bulk import's changelog is a few rows instead of one per tuple,
-- and the reverse index leads with the user.
--
-- An import writes its tuples in key order, numbered (`tuples.seq`) from the store's last seq + 1,
-- so the tuples of one object type are one seq range. `changelog_imports` holds one row per object
-- type of an import: the import's revision, that range, and `seq_base` (the store's last seq before
-- the import). ReadChanges reads such a change as the tuple at that seq, numbered
-- `seq - seq_base` within its revision, beside the `changelog` rows: the same (revision, seq)
-- positions, order and content as a changelog row per tuple had. Rows written before this
-- migration keep their changelog rows.
CREATE TABLE changelog_imports (
    store_id      text COLLATE "C" NOT NULL,
    revision      bigint      NOT NULL,
    first_seq     bigint      NOT NULL,
    last_seq      bigint      NOT NULL,
    seq_base      bigint      NOT NULL,
    object_type   text COLLATE "C" NOT NULL,
    committed_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, revision, first_seq),
    CHECK (seq_base < first_seq AND first_seq <= last_seq)
);

CREATE INDEX changelog_imports_type ON changelog_imports (store_id, object_type, revision, first_seq);

CREATE TRIGGER changelog_imports_append_only BEFORE UPDATE ON changelog_imports
    FOR EACH ROW EXECUTE FUNCTION permsvc_refuse_update();

-- A deleted tuple that an import wrote leaves its change behind: the write it was is copied into
-- `changelog` (at the import's revision and position, with the import's commit time) in the
-- deleting statement, so the history reads the same after the tuple is gone.
CREATE FUNCTION permsvc_keep_imported_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation,
                           user_type, user_id, user_relation, condition_name, condition_context,
                           committed_at)
    SELECT g.store_id, g.revision, g.seq - i.seq_base, 'write', g.object_type, g.object_id,
           g.relation, g.user_type, g.user_id, g.user_relation, g.condition_name,
           g.condition_context, i.committed_at
    FROM gone g
    JOIN changelog_imports i ON i.store_id = g.store_id AND i.revision = g.revision
        AND g.seq BETWEEN i.first_seq AND i.last_seq;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tuples_keep_imported_changes AFTER DELETE ON tuples
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION permsvc_keep_imported_changes();

-- The reverse index (user -> objects of a type) ordered by the user first: an import comes in key
-- (object) order, and its users repeat, so inserts land on fewer, hotter index pages. Existing rows
-- are indexed again here.
DROP INDEX tuples_reverse;
CREATE INDEX tuples_reverse ON tuples (store_id, user_type, user_id, user_relation, object_type, relation, object_id);
