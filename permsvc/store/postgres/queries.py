"""SQL of the PostgreSQL backend. Values are always bound as ``$n`` parameters; the only SQL built
at run time appends fixed column predicates from :data:`READ_FILTER_COLUMNS` (Read filters)."""

from __future__ import annotations

__all__ = ()

TUPLE_COLUMNS = "object_type, object_id, relation, user_type, user_id, user_relation, condition_name, condition_context::text"
_KEY_ARRAYS = "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]"
_KEY_JOIN = (
    "t.store_id = $1 AND t.object_type = k.object_type AND t.object_id = k.object_id AND t.relation = k.relation "
    "AND t.user_type = k.user_type AND t.user_id = k.user_id AND t.user_relation = k.user_relation"
)

CREATE_STORE = (
    "WITH s AS (INSERT INTO stores (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id) "
    "INSERT INTO store_revisions (store_id, revision) SELECT id, 0 FROM s"
)
GET_STORE = "SELECT id, name, created_at, updated_at, deleted_at FROM stores WHERE id = $1 AND deleted_at IS NULL"
LIST_STORES = (
    "SELECT id, name, created_at, updated_at, deleted_at FROM stores "
    "WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2"
)
LIST_STORES_BY_NAME = (
    "SELECT id, name, created_at, updated_at, deleted_at FROM stores "
    "WHERE deleted_at IS NULL AND name = $3 AND id > $1 ORDER BY id LIMIT $2"
)
# Model writes and store deletions notify 'permsvc_models' in their statement (so in commit order
# with the tuple notifications): processes drop the latest model they cached (store/index/model_versions.py).
DELETE_STORE = (
    "WITH d AS (UPDATE stores SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL "
    "RETURNING id) SELECT pg_notify('permsvc_models', id || ':deleted') FROM d"
)

# Taken first in every tuple write: the row lock serialises writers of one store until commit.
LOCK_REVISION = (
    "SELECT r.revision, r.last_seq FROM store_revisions r JOIN stores s ON s.id = r.store_id "
    "WHERE r.store_id = $1 AND s.deleted_at IS NULL FOR UPDATE OF r"
)
LIVE_STORE = "SELECT 1 FROM stores WHERE id = $1 AND deleted_at IS NULL"
HEAD_REVISION = "SELECT revision FROM store_revisions WHERE store_id = $1"
COMMIT_REVISION = (
    "WITH r AS (UPDATE store_revisions SET revision = $2, last_seq = $3 WHERE store_id = $1), "
    "l AS (INSERT INTO revision_log (store_id, revision, committed_at) VALUES ($1, $2, $4)) "
    "SELECT pg_notify('permsvc_changes', $5)"
)
"""Advance the store's revision, log it and notify ``'<store_id>:<revision>'`` (delivered at
commit): one round trip."""

INSERT_MODEL = (
    "WITH m AS (INSERT INTO authorization_models (store_id, id, schema_version, model, dsl, created_at) "
    "VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING store_id) "
    "SELECT pg_notify('permsvc_models', store_id || ':model') FROM m"
)
_MODEL_COLUMNS = "id, model::text, dsl, created_at"
READ_MODEL = f"SELECT {_MODEL_COLUMNS} FROM authorization_models WHERE store_id = $1 AND id = $2"
READ_LATEST_MODEL = f"SELECT {_MODEL_COLUMNS} FROM authorization_models WHERE store_id = $1 ORDER BY id DESC LIMIT 1"
LIST_MODELS = f"SELECT {_MODEL_COLUMNS} FROM authorization_models WHERE store_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
MODEL_EXISTS = "SELECT 1 FROM authorization_models WHERE store_id = $1 AND id = $2"

UPSERT_ASSERTIONS = (
    "INSERT INTO assertions (store_id, model_id, assertions, updated_at) VALUES ($1, $2, $3::jsonb, $4) "
    "ON CONFLICT (store_id, model_id) DO UPDATE SET assertions = excluded.assertions, updated_at = excluded.updated_at"
)
READ_ASSERTIONS = "SELECT assertions::text FROM assertions WHERE store_id = $1 AND model_id = $2"

# -- engine reads: forward (object#relation -> users) and reverse (user -> objects) ---------------

READ_TUPLE = (
    f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = $1 AND object_type = $2 AND object_id = $3 "
    "AND relation = $4 AND user_type = $5 AND user_id = $6 AND user_relation = $7"
)
READ_TUPLE_REVISIONS = (
    "SELECT k.ord, t.revision "
    f"FROM unnest({_KEY_ARRAYS}) WITH ORDINALITY AS k(object_type, object_id, relation, user_type, user_id, "
    f"user_relation, ord) JOIN tuples t ON {_KEY_JOIN}"
)
READ_USERSET_TUPLES = (
    f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = $1 AND object_type = $2 AND object_id = $3 "
    "AND relation = $4 AND (user_relation <> '' OR user_id = '*')"
)
READ_OBJECT_RELATION = f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = $1 AND object_type = $2 AND object_id = $3 AND relation = $4"
SNAPSHOT_TUPLES = f"SELECT {TUPLE_COLUMNS} FROM tuples WHERE store_id = $1"
READ_STARTING_WITH_USER = (
    "SELECT t.object_type, t.object_id, t.relation, t.user_type, t.user_id, t.user_relation, t.condition_name, "
    "t.condition_context::text FROM tuples t "
    "JOIN unnest($4::text[], $5::text[], $6::text[]) AS u(user_type, user_id, user_relation) "
    "ON t.user_type = u.user_type AND t.user_id = u.user_id AND t.user_relation = u.user_relation "
    "WHERE t.store_id = $1 AND t.object_type = $2 AND t.relation = $3"
)
READ_STARTING_WITH_USER_OBJECTS = READ_STARTING_WITH_USER + " AND t.object_id = ANY($7::text[])"

# MultiKeyTupleReader.read_many: the three forward reads for many keys (<= MAX_KEYS_PER_READ in
# all) in one statement; the first column says which read a row answers. The keys come as JSON
# arrays of key arrays, not as text[] for unnest: the planner sizes unnest($n) from the bound
# array, so every execution got a custom plan (planning took 4x the execution); a jsonb list has
# one estimate, and the statement runs on its cached generic plan (a nested loop of index lookups).
_T_COLUMNS = (
    "t.object_type, t.object_id, t.relation, t.user_type, t.user_id, t.user_relation, t.condition_name, "
    "t.condition_context::text"
)
_OBJECT_RELATION_MATCH = (
    "JOIN tuples t ON t.store_id = $1 AND t.object_type = k.v->>0 AND t.object_id = k.v->>1 "
    "AND t.relation = k.v->>2"
)
READ_MANY = (
    f"SELECT 0, {_T_COLUMNS} FROM jsonb_array_elements($2::jsonb) AS k(v) {_OBJECT_RELATION_MATCH} "
    "AND t.user_type = k.v->>3 AND t.user_id = k.v->>4 AND t.user_relation = k.v->>5 "
    f"UNION ALL SELECT 1, {_T_COLUMNS} FROM jsonb_array_elements($3::jsonb) AS k(v) {_OBJECT_RELATION_MATCH} "
    "AND (t.user_relation <> '' OR t.user_id = '*') "
    f"UNION ALL SELECT 2, {_T_COLUMNS} FROM jsonb_array_elements($4::jsonb) AS k(v) {_OBJECT_RELATION_MATCH}"
)

# -- writes (<= a few hundred operations: arrays of keys, one statement each) ---------------------

FIND_TUPLES = (
    "SELECT k.ord, t.condition_name, t.condition_context::text "
    f"FROM unnest({_KEY_ARRAYS}) WITH ORDINALITY AS k(object_type, object_id, relation, user_type, user_id, "
    f"user_relation, ord) JOIN tuples t ON {_KEY_JOIN}"
)
DELETE_TUPLES = (
    f"DELETE FROM tuples t USING unnest({_KEY_ARRAYS}) AS k(object_type, object_id, relation, user_type, user_id, "
    f"user_relation) WHERE {_KEY_JOIN}"
)
INSERT_TUPLES = (
    "INSERT INTO tuples (store_id, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context, revision, inserted_at, seq) "
    "SELECT $1, k.object_type, k.object_id, k.relation, k.user_type, k.user_id, k.user_relation, k.condition_name, "
    "k.condition_context::jsonb, $10, $11, $12 + k.ord "
    f"FROM unnest({_KEY_ARRAYS}, $8::text[], $9::text[]) WITH ORDINALITY AS k(object_type, object_id, relation, "
    "user_type, user_id, user_relation, condition_name, condition_context, ord)"
)
INSERT_CHANGES = (
    "INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation, user_type, "
    "user_id, user_relation, condition_name, condition_context, committed_at) "
    "SELECT $1, $11, k.ord, k.operation, k.object_type, k.object_id, k.relation, k.user_type, k.user_id, "
    "k.user_relation, k.condition_name, k.condition_context::jsonb, $12 "
    f"FROM unnest({_KEY_ARRAYS}, $8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS k(object_type, object_id, "
    "relation, user_type, user_id, user_relation, condition_name, condition_context, operation, ord)"
)

_DELETE_ROWS = (
    "unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) "
    "WITH ORDINALITY AS k(object_type, object_id, relation, user_type, user_id, user_relation, condition_name, "
    "condition_context, ord)"
)
_WRITE_ROWS = (
    "unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], "
    "$17::text[]) WITH ORDINALITY AS k(object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context, ord)"
)
APPLY_WRITE = (
    f"WITH d AS (DELETE FROM tuples t USING {_DELETE_ROWS} WHERE {_KEY_JOIN}), "
    "i AS (INSERT INTO tuples (store_id, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context, revision, inserted_at, seq) "
    "SELECT $1, k.object_type, k.object_id, k.relation, k.user_type, k.user_id, k.user_relation, k.condition_name, "
    f"k.condition_context::jsonb, $18, $19, $20 + k.ord FROM {_WRITE_ROWS}), "
    "c AS (INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation, user_type, "
    "user_id, user_relation, condition_name, condition_context, committed_at) "
    "SELECT $1, $18, k.seq, k.operation, k.object_type, k.object_id, k.relation, k.user_type, k.user_id, "
    "k.user_relation, k.condition_name, k.condition_context::jsonb, $19 FROM ("
    f"SELECT k.*, 'delete'::text AS operation, k.ord AS seq FROM {_DELETE_ROWS} "
    f"UNION ALL SELECT k.*, 'write'::text, $21 + k.ord FROM {_WRITE_ROWS}) AS k), "
    "r AS (UPDATE store_revisions SET revision = $18, last_seq = $22 WHERE store_id = $1), "
    "l AS (INSERT INTO revision_log (store_id, revision, committed_at) VALUES ($1, $18, $19)) "
    "SELECT pg_notify('permsvc_changes', $23)"
)
"""A whole tuple write once its store's revision is locked and its plan made, in one round trip:
delete ($2-$9: keys, conditions), insert ($10-$17), the changelog (deletes then writes), the new
revision ($18 at $19; tuple seq from $20, $21 deletes, new last seq $22), its log and the
notification ($23). Only when no tuple is both deleted and written: the sub-statements see one
snapshot and run in no set order, so a delete and an insert of the same tuple would collide."""
APPLY_WRITE_AUDITED = APPLY_WRITE.replace(
    " SELECT pg_notify(",
    ", a AS (INSERT INTO audit_log (store_id, at, actor, actor_kind, action, detail, request_id, revision) "
    "VALUES ($24, $25, $26, $27, $28, $29::jsonb, $30, $31) RETURNING id) "
    "SELECT (SELECT id FROM a), pg_notify(",
)
""":data:`APPLY_WRITE` appending the write's audit row ($24-$31): returns the row's id."""

# -- Read API ---------------------------------------------------------------------------------------

IDENTITY_COLUMNS = (
    "object_type",
    "object_id",
    "relation",
    "user_type",
    "user_id",
    "user_relation",
)
"""A tuple's identity columns, in key order."""
READ_FILTER_COLUMNS = IDENTITY_COLUMNS
"""The only identifiers a Read filter may add predicates on."""
READ_PAGE_HEAD = (
    "SELECT seq, inserted_at, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context::text FROM tuples WHERE store_id = $1 AND seq > $2"
)
READ_PAGE_TAIL = " ORDER BY seq LIMIT "
BULK_DELETE_HEAD = "WITH del AS (DELETE FROM tuples WHERE store_id = $1"
BULK_DELETE_TAIL = (
    " RETURNING seq, object_type, object_id, relation, user_type, user_id, user_relation, condition_name, "
    "condition_context) "
    "INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation, user_type, "
    "user_id, user_relation, condition_name, condition_context, committed_at) "
    "SELECT $1, $2, row_number() OVER (ORDER BY seq), 'delete', object_type, object_id, relation, user_type, "
    "user_id, user_relation, condition_name, condition_context, $3 FROM del"
)

# -- changelog --------------------------------------------------------------------------------------

_CHANGE_COLUMNS = (
    "revision, seq, operation, committed_at, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context::text"
)
# An import's changes are its tuples (see migration 0005): each row of `changelog_imports` names a
# seq range of the store's tuples, read as changes numbered seq - seq_base at the import's revision.
_IMPORTED_COLUMNS = (
    "i.revision, t.seq - i.seq_base, 'write', i.committed_at, t.object_type, t.object_id, t.relation, "
    "t.user_type, t.user_id, t.user_relation, t.condition_name, t.condition_context::text"
)
# A page: up to $4 changelog rows and up to $4 imported changes after position ($2, $3), merged.
# Each import range is read through tuples_store_seq from the position on, $4 rows at most.
_IMPORTED_AFTER = (
    f"SELECT {_IMPORTED_COLUMNS} FROM changelog_imports i CROSS JOIN LATERAL (SELECT * FROM tuples t "
    "WHERE t.store_id = $1 AND t.seq BETWEEN i.first_seq AND i.last_seq "
    "AND t.seq > i.seq_base + CASE WHEN i.revision = $2 THEN $3 ELSE 0 END ORDER BY t.seq LIMIT $4) t "
    "WHERE i.store_id = $1 AND i.revision >= $2"
)
_IMPORTED_ORDER = " ORDER BY i.revision, i.first_seq, t.seq LIMIT $4"
READ_CHANGES_AFTER = (
    f"(SELECT {_CHANGE_COLUMNS} FROM changelog WHERE store_id = $1 AND (revision, seq) > ($2, $3) "
    f"ORDER BY revision, seq LIMIT $4) UNION ALL ({_IMPORTED_AFTER}{_IMPORTED_ORDER}) ORDER BY 1, 2 LIMIT $4"
)
READ_CHANGES_AFTER_TYPE = (
    f"(SELECT {_CHANGE_COLUMNS} FROM changelog WHERE store_id = $1 AND object_type = $5 "
    "AND (revision, seq) > ($2, $3) ORDER BY revision, seq LIMIT $4) "
    f"UNION ALL ({_IMPORTED_AFTER} AND i.object_type = $5{_IMPORTED_ORDER}) ORDER BY 1, 2 LIMIT $4"
)
FIRST_REVISION_SINCE = "SELECT revision FROM revision_log WHERE store_id = $1 AND committed_at >= $2 ORDER BY committed_at, revision LIMIT 1"
# Everything after revision $2 up to and including the revision of the ($3 + 1)-th change after it
# (an import counts its seq ranges' sizes), so a revision is never split across calls; one
# statement, so one snapshot of changelog, changelog_imports and tuples.
_CHANGES_SINCE_UPPER = (
    "COALESCE((SELECT revision FROM (SELECT revision, sum(n) OVER (ORDER BY revision, pos) AS upto FROM ("
    "(SELECT revision, seq::bigint AS pos, 1::bigint AS n FROM changelog WHERE store_id = $1 AND revision > $2 "
    "ORDER BY revision, seq LIMIT $3 + 1) UNION ALL SELECT revision, first_seq - seq_base, last_seq - first_seq + 1 "
    "FROM changelog_imports WHERE store_id = $1 AND revision > $2) c) w WHERE upto > $3 ORDER BY revision LIMIT 1), "
    "9223372036854775807)"
)
CHANGES_SINCE = (
    f"WITH u AS MATERIALIZED (SELECT {_CHANGES_SINCE_UPPER} AS upper) "
    f"SELECT {_CHANGE_COLUMNS} FROM changelog, u WHERE store_id = $1 AND revision > $2 AND revision <= u.upper "
    f"UNION ALL SELECT {_IMPORTED_COLUMNS} FROM u, changelog_imports i "
    "JOIN tuples t ON t.store_id = $1 AND t.seq BETWEEN i.first_seq AND i.last_seq "
    "WHERE i.store_id = $1 AND i.revision > $2 AND i.revision <= u.upper ORDER BY 1, 2"
)

# -- bulk import: COPY into a session temp table, then one INSERT ... ON CONFLICT ------------------

BULK_CREATE_STAGING = (
    'CREATE TEMP TABLE bulk_staging (ord bigint, pos bigint, object_type text COLLATE "C", object_id text COLLATE "C", '
    'relation text COLLATE "C", user_type text COLLATE "C", user_id text COLLATE "C", user_relation text COLLATE "C", '
    "condition_name text, condition_context jsonb) ON COMMIT DROP"
)
BULK_STAGING_COLUMNS = ("ord", "pos", *IDENTITY_COLUMNS, "condition_name", "condition_context")
# Rows go in key order (the primary key's), numbered in that order from $4 + 1, so the key and seq
# indexes are appended to; the first of several equal keys in the input wins. Without ON CONFLICT
# (the fast path, for imports without any duplicate: the common case of loading a new store) no
# row pays for a conflict probe; the ON CONFLICT forms are the redo after a unique violation.
_BULK_INSERT_HEAD = (
    "INSERT INTO tuples (store_id, object_type, object_id, relation, user_type, user_id, user_relation, "
    "condition_name, condition_context, revision, inserted_at, seq) "
    "SELECT $1, object_type, object_id, relation, user_type, user_id, user_relation, condition_name, "
    "condition_context, $2, $3, "
)
BULK_INSERT_NEW = (
    f"{_BULK_INSERT_HEAD}$4 + row_number() OVER (ORDER BY object_type, object_id, relation, user_type, "
    "user_id, user_relation, ord) FROM bulk_staging "
    "ORDER BY object_type, object_id, relation, user_type, user_id, user_relation, ord"
)
BULK_INSERT = BULK_INSERT_NEW + " ON CONFLICT DO NOTHING"
# Staged in key order by the client, each row numbered (`pos`) in that order: no sort and no window
# on the server (measured 1.2 s of a 1M-tuple import). The scan of the fresh temporary table reads
# the rows as copied, so the indexes are still appended to; seqs come from `pos` either way.
BULK_INSERT_SORTED_NEW = f"{_BULK_INSERT_HEAD}$4 + pos FROM bulk_staging"
BULK_INSERT_SORTED = BULK_INSERT_SORTED_NEW + " ON CONFLICT DO NOTHING"
# The changelog of an import (see _IMPORTED_COLUMNS): one row per object type. The staged rows
# were numbered in key order from $4 + 1, so a type's rows hold the seqs after the counts of the
# types before it; rows skipped as duplicates leave their seqs unused.
BULK_LOG = (
    "INSERT INTO changelog_imports (store_id, revision, first_seq, last_seq, seq_base, object_type, committed_at) "
    "SELECT $1, $2, $4 + upto - n + 1, $4 + upto, $4, object_type, $3 FROM (SELECT object_type, count(*) AS n, "
    "(sum(count(*)) OVER (ORDER BY object_type))::bigint AS upto FROM bulk_staging GROUP BY object_type) s"
)
# Sorting a large import in memory instead of in temporary files; transaction-scoped.
BULK_WORK_MEM = "SET LOCAL work_mem = '256MB'"
_STAGING_JOIN = (
    "JOIN tuples t ON t.store_id = $1 AND t.object_type = s.object_type AND t.object_id = s.object_id "
    "AND t.relation = s.relation AND t.user_type = s.user_type AND t.user_id = s.user_id "
    "AND t.user_relation = s.user_relation"
)
# A staged tuple matching a row this import ($2 = its revision) did not write: stored before.
BULK_PREEXISTING = (
    "SELECT s.object_type, s.object_id, s.relation, s.user_type, s.user_id, s.user_relation "
    f"FROM bulk_staging s {_STAGING_JOIN} WHERE t.revision <> $2 ORDER BY s.ord LIMIT 1"
)
BULK_CONFLICT = (
    "SELECT s.object_type, s.object_id, s.relation, s.user_type, s.user_id, s.user_relation, s.condition_name, "
    f"s.condition_context::text FROM bulk_staging s {_STAGING_JOIN} "
    "WHERE t.condition_name IS DISTINCT FROM s.condition_name "
    "OR t.condition_context IS DISTINCT FROM s.condition_context ORDER BY s.ord LIMIT 1"
)

# -- migrations -------------------------------------------------------------------------------------

MIGRATION_LOCK_KEY = 0x7065726D73766301
"""``pg_advisory_lock`` key held while migrating ("permsvc" + 1), so concurrent migrators queue."""
CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)
APPLIED_VERSIONS = "SELECT version FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
MIGRATIONS_TABLE_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"
SCHEMA_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
