-- permsvc schema v5 (SQLite): a bulk import's changelog is a few rows instead of one per tuple,
-- and the reverse index leads with the user.
--
-- An import inserts its tuples in key order, so they get consecutive rowids (`tuples.seq`, above
-- every earlier one) and the tuples of one object type are one seq range. `changelog_imports`
-- holds one row per object type of an import: the import's revision, that range, and `seq_base`
-- (the largest seq before the import). ReadChanges reads such a change as the tuple at that seq,
-- numbered `seq - seq_base` within its revision, beside the `changelog` rows: the same
-- (revision, seq) positions, order and content as a changelog row per tuple had. Rows written
-- before this migration keep their changelog rows.
CREATE TABLE changelog_imports (
    store_id      TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    first_seq     INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL,
    seq_base      INTEGER NOT NULL,
    object_type   TEXT    NOT NULL,
    committed_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, revision, first_seq),
    CHECK (seq_base < first_seq AND first_seq <= last_seq)
) WITHOUT ROWID;

CREATE INDEX changelog_imports_type ON changelog_imports (store_id, object_type, revision, first_seq);

CREATE TRIGGER changelog_imports_append_only BEFORE UPDATE ON changelog_imports
BEGIN
    SELECT RAISE(ABORT, 'changelog_imports rows are append-only');
END;

-- A deleted tuple that an import wrote leaves its change behind: the write it was is copied into
-- `changelog` (at the import's revision and position, with the import's commit time) in the
-- deleting statement, so the history reads the same after the tuple is gone.
CREATE TRIGGER tuples_keep_imported_changes AFTER DELETE ON tuples
BEGIN
    INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation,
                           user_type, user_id, user_relation, condition_name, condition_context,
                           committed_at)
    SELECT OLD.store_id, OLD.revision, OLD.seq - i.seq_base, 'write', OLD.object_type,
           OLD.object_id, OLD.relation, OLD.user_type, OLD.user_id, OLD.user_relation,
           OLD.condition_name, OLD.condition_context, i.committed_at
    FROM changelog_imports i
    WHERE i.store_id = OLD.store_id AND i.revision = OLD.revision
        AND OLD.seq BETWEEN i.first_seq AND i.last_seq;
END;

-- The reverse index (user -> objects of a type) ordered by the user first: an import comes in key
-- (object) order, and its users repeat, so inserts land on fewer, hotter index pages. Existing rows
-- are indexed again here.
DROP INDEX tuples_reverse;
CREATE INDEX tuples_reverse ON tuples (store_id, user_type, user_id, user_relation, object_type, relation, object_id);
