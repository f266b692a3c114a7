"""SQL of the SQLite backend. Values are always bound as ``?`` parameters; the only SQL assembled at
run time joins constant fragments from this module (Read filters), never values."""

from __future__ import annotations

__all__ = ()

TUPLE_COLUMNS = "object_type, object_id, relation, user_type, user_id, user_relation, condition_name, condition_context"
KEY_MATCH = (
    "store_id = ? AND object_type = ? AND object_id = ? AND relation = ? "
    "AND user_type = ? AND user_id = ? AND user_relation = ?"
)

CREATE_STORE = "INSERT INTO stores (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)"
CREATE_STORE_REVISION = "INSERT INTO store_revisions (store_id, revision) VALUES (?, 0)"
GET_STORE = "SELECT id, name, created_at, updated_at, deleted_at FROM stores WHERE id = ? AND deleted_at IS NULL"
LIST_STORES = (
    "SELECT id, name, created_at, updated_at, deleted_at FROM stores "
    "WHERE deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?"
)
LIST_STORES_BY_NAME = (
    "SELECT id, name, created_at, updated_at, deleted_at FROM stores "
    "WHERE deleted_at IS NULL AND name = ? AND id > ? ORDER BY id LIMIT ?"
)
DELETE_STORE = (
    "UPDATE stores SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL"
)
LIVE_STORE_REVISION = (
    "SELECT r.revision FROM store_revisions r JOIN stores s ON s.id = r.store_id "
    "WHERE r.store_id = ? AND s.deleted_at IS NULL"
)
HEAD_REVISION = "SELECT revision FROM store_revisions WHERE store_id = ?"
SET_REVISION = "UPDATE store_revisions SET revision = ? WHERE store_id = ?"
LOG_REVISION = "INSERT INTO revision_log (store_id, revision, committed_at) VALUES (?, ?, ?)"

INSERT_MODEL = "INSERT INTO authorization_models (store_id, id, schema_version, model, dsl, created_at) VALUES (?, ?, ?, ?, ?, ?)"
READ_MODEL = (
    "SELECT id, model, dsl, created_at FROM authorization_models WHERE store_id = ? AND id = ?"
)
READ_LATEST_MODEL = "SELECT id, model, dsl, created_at FROM authorization_models WHERE store_id = ? ORDER BY id DESC LIMIT 1"
LIST_MODELS = "SELECT id, model, dsl, created_at FROM authorization_models WHERE store_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
MODEL_EXISTS = "SELECT 1 FROM authorization_models WHERE store_id = ? AND id = ?"

UPSERT_ASSERTIONS = (
    "INSERT INTO assertions (store_id, model_id, assertions, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (store_id, model_id) DO UPDATE SET assertions = excluded.assertions, updated_at = excluded.updated_at"
)
READ_ASSERTIONS = "SELECT assertions FROM assertions WHERE store_id = ? AND model_id = ?"

READ_TUPLE = f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE {KEY_MATCH}"
READ_TUPLE_REVISION = f"SELECT revision FROM tuples WHERE {KEY_MATCH}"
READ_USERSET_TUPLES = (
    f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = ? AND object_type = ? AND object_id = ? AND relation = ? "
    "AND (user_relation <> '' OR user_id = '*')"
)
READ_OBJECT_RELATION = f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = ? AND object_type = ? AND object_id = ? AND relation = ?"
SNAPSHOT_TUPLES = f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = ?"
# A store holding a large share of the table is read in one sequential table scan: through the
# index every row costs a random lookup of its condition columns (measured 2.4x the CPU).
SNAPSHOT_TUPLES_SCAN = f"SELECT {TUPLE_COLUMNS} FROM tuples NOT INDEXED WHERE store_id = ?"
STORE_TUPLE_COUNT = "SELECT count(*) FROM tuples WHERE store_id = ?"
TABLE_TUPLE_ESTIMATE = "SELECT COALESCE(max(seq), 0) - COALESCE(min(seq), 0) + 1 FROM tuples"
# MultiKeyTupleReader.read_many: the three forward reads for many keys (JSON arrays of key arrays,
# <= MAX_KEYS_PER_READ keys in all) in one statement; the first column says which read a row
# answers. CROSS JOIN keeps each key list the outer loop: one index lookup per key.
_T_COLUMNS = (
    "t.object_type, t.object_id, t.relation, t.user_type, t.user_id, t.user_relation, t.condition_name, "
    "t.condition_context"
)
_OBJECT_RELATION_MATCH = (
    "CROSS JOIN tuples t WHERE t.store_id = ?1 AND t.object_type = json_extract(k.value, '$[0]') "
    "AND t.object_id = json_extract(k.value, '$[1]') AND t.relation = json_extract(k.value, '$[2]')"
)
READ_MANY = (
    f"SELECT 0, {_T_COLUMNS} FROM json_each(?2) AS k {_OBJECT_RELATION_MATCH} "
    "AND t.user_type = json_extract(k.value, '$[3]') AND t.user_id = json_extract(k.value, '$[4]') "
    "AND t.user_relation = json_extract(k.value, '$[5]') "
    f"UNION ALL SELECT 1, {_T_COLUMNS} FROM json_each(?3) AS k {_OBJECT_RELATION_MATCH} "
    "AND (t.user_relation <> '' OR t.user_id = '*') "
    f"UNION ALL SELECT 2, {_T_COLUMNS} FROM json_each(?4) AS k {_OBJECT_RELATION_MATCH}"
)
READ_STARTING_WITH_USER = (
    f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = ? AND object_type = ? AND relation = ? "
    "AND user_type = ? AND user_id = ? AND user_relation = ?"
)
READ_STARTING_WITH_USER_OBJECTS = (
    READ_STARTING_WITH_USER + " AND object_id IN (SELECT value FROM json_each(?))"
)

INSERT_TUPLE = (
    "INSERT INTO tuples (store_id, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context, revision, inserted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
DELETE_TUPLE = f"DELETE FROM tuples WHERE {KEY_MATCH}"
INSERT_CHANGE = (
    "INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation, user_type, "
    "user_id, user_relation, condition_name, condition_context, committed_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# Read API: constant fragments, one per filter field present.
READ_PAGE_HEAD = (
    f"SELECT seq, inserted_at, {TUPLE_COLUMNS} FROM tuples WHERE store_id = ? AND seq > ?"
)
READ_PAGE_OBJECT_TYPE = " AND object_type = ?"
READ_PAGE_OBJECT_ID = " AND object_id = ?"
READ_PAGE_RELATION = " AND relation = ?"
READ_PAGE_USER = " AND user_type = ? AND user_id = ? AND user_relation = ?"
READ_PAGE_TAIL = " ORDER BY seq LIMIT ?"
BULK_DELETE_HEAD = f"SELECT seq, {TUPLE_COLUMNS} FROM tuples WHERE store_id = ? AND seq > ?"
BULK_DELETE_TAIL = " ORDER BY seq"
DELETE_BY_SEQ = "DELETE FROM tuples WHERE seq = ?"

CHANGE_COLUMNS = f"revision, seq, operation, committed_at, {TUPLE_COLUMNS}"
READ_CHANGES_AFTER = (
    f"SELECT {CHANGE_COLUMNS} FROM changelog WHERE store_id = ? AND (revision, seq) > (?, ?) "
    "ORDER BY revision, seq LIMIT ?"
)
READ_CHANGES_AFTER_TYPE = (
    f"SELECT {CHANGE_COLUMNS} FROM changelog WHERE store_id = ? AND object_type = ? AND (revision, seq) > (?, ?) "
    "ORDER BY revision, seq LIMIT ?"
)
FIRST_REVISION_SINCE = "SELECT revision FROM revision_log WHERE store_id = ? AND committed_at >= ? ORDER BY committed_at, revision LIMIT 1"
# The revision of the (?3 + 1)-th change after revision ?2 (an import counts its seq ranges' sizes):
# changes_since reads up to and including it, so a revision is never split across calls.
CHANGES_SINCE_UPPER = (
    "SELECT revision FROM (SELECT revision, sum(n) OVER (ORDER BY revision, pos) AS upto FROM ("
    "SELECT * FROM (SELECT revision, seq AS pos, 1 AS n FROM changelog WHERE store_id = ?1 AND revision > ?2 "
    "ORDER BY revision, seq LIMIT ?3 + 1) UNION ALL SELECT revision, first_seq - seq_base, last_seq - first_seq + 1 "
    "FROM changelog_imports WHERE store_id = ?1 AND revision > ?2)) WHERE upto > ?3 ORDER BY revision LIMIT 1"
)
CHANGES_SINCE = (
    f"SELECT {CHANGE_COLUMNS} FROM changelog WHERE store_id = ? AND revision > ? AND revision <= ? "
    "ORDER BY revision, seq"
)
# An import's changes are its tuples (see migration 0005): each row of `changelog_imports` names a
# rowid range of tuples, read as changes numbered seq - seq_base at the import's revision. The
# ranges ascend with (revision, first_seq), so the join comes out in change order without a sort.
_IMPORTED = (
    "SELECT imports.revision, tuples.seq - imports.seq_base, 'write', imports.committed_at, tuples.object_type, "
    "tuples.object_id, tuples.relation, tuples.user_type, tuples.user_id, tuples.user_relation, "
    "tuples.condition_name, tuples.condition_context FROM changelog_imports AS imports "
    "JOIN tuples ON tuples.seq BETWEEN imports.first_seq AND imports.last_seq WHERE imports.store_id = ?1"
)
_IMPORTED_AFTER_POSITION = (
    " AND imports.revision >= ?2 "
    "AND tuples.seq > imports.seq_base + CASE WHEN imports.revision = ?2 THEN ?3 ELSE 0 END"
)
_IMPORTED_ORDER = " ORDER BY imports.revision, imports.first_seq, tuples.seq"
# Imported changes after position (?2, ?3), ?4 at most.
IMPORTED_AFTER = f"{_IMPORTED}{_IMPORTED_AFTER_POSITION}{_IMPORTED_ORDER} LIMIT ?4"
IMPORTED_AFTER_TYPE = (
    f"{_IMPORTED} AND imports.object_type = ?5{_IMPORTED_AFTER_POSITION}{_IMPORTED_ORDER} LIMIT ?4"
)
IMPORTED_BETWEEN = (
    f"{_IMPORTED} AND imports.revision > ?2 AND imports.revision <= ?3{_IMPORTED_ORDER}"
)

BULK_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS bulk_staging (ord INTEGER PRIMARY KEY, object_type TEXT, object_id TEXT, "
    "relation TEXT, user_type TEXT, user_id TEXT, user_relation TEXT, condition_name TEXT, condition_context TEXT)"
)
BULK_CLEAR_STAGING = "DELETE FROM temp.bulk_staging"
BULK_STAGE = (
    "INSERT INTO temp.bulk_staging (object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
BULK_MAX_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM tuples"
# Key order (see BulkTupleWriter.bulk_write): the forward index and the rowid are appended to.
BULK_INSERT = (
    "INSERT INTO tuples (store_id, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context, revision, inserted_at) "
    "SELECT ?, object_type, object_id, relation, user_type, user_id, user_relation, condition_name, "
    "condition_context, ?, ? FROM temp.bulk_staging WHERE true "
    "ORDER BY object_type, object_id, relation, user_type, user_id, user_relation, ord "
    "ON CONFLICT DO NOTHING"
)
BULK_STAGED_COUNT = "SELECT COUNT(*) FROM temp.bulk_staging"
# A staged tuple that matches a row this import did not insert: it was stored before.
BULK_PREEXISTING = (
    "SELECT s.object_type, s.object_id, s.relation, s.user_type, s.user_id, s.user_relation "
    "FROM temp.bulk_staging s JOIN tuples t ON t.store_id = ? AND t.object_type = s.object_type "
    "AND t.object_id = s.object_id AND t.relation = s.relation AND t.user_type = s.user_type "
    "AND t.user_id = s.user_id AND t.user_relation = s.user_relation WHERE t.seq <= ? ORDER BY s.ord LIMIT 1"
)
# Staged tuples whose stored row (pre-existing, or inserted from an earlier input line) may carry
# another condition; contexts are stored with sorted keys, the caller compares them decoded.
BULK_CONFLICT_CANDIDATES = (
    "SELECT s.object_type, s.object_id, s.relation, s.user_type, s.user_id, s.user_relation, "
    "s.condition_name, s.condition_context, t.condition_name, t.condition_context "
    "FROM temp.bulk_staging s JOIN tuples t ON t.store_id = ? AND t.object_type = s.object_type "
    "AND t.object_id = s.object_id AND t.relation = s.relation AND t.user_type = s.user_type "
    "AND t.user_id = s.user_id AND t.user_relation = s.user_relation "
    "WHERE t.condition_name IS NOT s.condition_name OR t.condition_context IS NOT s.condition_context "
    "ORDER BY s.ord"
)
# The changelog of an import (see _IMPORTED): one row per object type, the rowid range of its
# tuples (inserted in key order, so each type's rows are consecutive).
BULK_LOG = (
    "INSERT INTO changelog_imports (store_id, revision, first_seq, last_seq, seq_base, object_type, committed_at) "
    "SELECT ?1, ?2, min(seq), max(seq), ?3, object_type, ?4 FROM tuples WHERE seq > ?3 GROUP BY object_type"
)
