"""Admin operations on tuples and models: grant, revoke, delete by filter, streaming import and
export, grant listings, and model validate / diff / upload.

Beyond OpenFGA's 100 operations per Write:

- :class:`GrantCommand` / :class:`RevokeCommand` take up to ``max_tuples`` (default 10 000)
  tuples per call and apply them atomically as one revision. They are idempotent: granting an
  existing tuple or revoking a missing one is not an error (``changed`` counts what changed).
- :class:`ImportTuplesCommand` takes JSON lines (one tuple per line) of any length. Every line is
  parsed and validated against the model first; with any error nothing is applied and the report
  lists the failing lines. Otherwise all tuples are applied through
  :class:`~permsvc.store.protocol.BulkTupleWriter` in **one** transaction and one revision. The
  validated tuples are held in memory until then (about 200 bytes per tuple).
- :class:`ExportTuplesQuery` streams every matching tuple, page by page, in the import's format.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from permsvc.commands.audit import audit_for, tuples_detail, with_detail
from permsvc.commands.errors import CommandError, InvalidInputError, InvalidTupleError
from permsvc.commands.models import ModelResolver, WriteAuthorizationModelCommand
from permsvc.commands.read import validate_page
from permsvc.commands.write import check_well_formed
from permsvc.core.refs import (
    ControlCharacterError,
    InvalidRefError,
    TupleCondition,
    TupleKey,
    check_tuple_text,
    parse_subject,
    reject_control_characters,
)
from permsvc.core.revision import Revision
from permsvc.model.diff import ModelDiff, diff_models
from permsvc.model.json import model_from_json
from permsvc.model.schema import AuthorizationModel
from permsvc.model.tuple_validation import invalid_tuple_message, tuple_fits_model, tuple_problem
from permsvc.model.typesystem import TypeSystem
from permsvc.store.protocol import (
    AuditRecord,
    BulkTupleWriter,
    ModelStore,
    Page,
    ReadFilter,
    StoredModel,
    StoredTuple,
    TupleReader,
    TupleWriter,
)

__all__ = (
    "DEFAULT_EXPORT_PAGE_SIZE",
    "DEFAULT_MAX_ADMIN_TUPLES",
    "DEFAULT_MAX_IMPORT_ERRORS",
    "DEFAULT_MAX_ORPHANS_LISTED",
    "ChangeOutcome",
    "DeleteByFilterCommand",
    "DiffModelQuery",
    "ExportTuplesQuery",
    "GrantCommand",
    "ImportLineError",
    "ImportOutcome",
    "ImportTuplesCommand",
    "ImportValidationError",
    "ListGrantsQuery",
    "ModelChangeOrphansTuplesError",
    "ModelDiffOutcome",
    "RevokeCommand",
    "TupleLine",
    "UploadModelCommand",
    "parse_filter",
    "tuple_line",
)

DEFAULT_MAX_ADMIN_TUPLES = 10_000
"""Tuples per grant/revoke call (one transaction); larger sets go through the JSON-lines import."""
DEFAULT_MAX_IMPORT_ERRORS = 100
"""Failing lines listed in an import's error report (all are counted)."""
DEFAULT_MAX_ORPHANS_LISTED = 100
DEFAULT_EXPORT_PAGE_SIZE = 1000


class ChangeOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """A committed admin change: ``revision`` is the store revision it is visible at (the head,
    unchanged, when nothing changed)."""

    revision: Revision
    changed: int
    model_id: str = ""
    audit: AuditRecord | None = None
    """The audit row as given to the writer (with what the command added to its detail)."""
    audit_id: int | None = None
    """The row's id when the write's own transaction appended it."""


class TupleLine(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One tuple of the import/export format and of the admin tuple lists."""

    object: str
    relation: str
    user: str
    condition: TupleCondition | None = None

    def key(self) -> TupleKey:
        return TupleKey(
            object=self.object, relation=self.relation, user=self.user, condition=self.condition
        )


def tuple_line(key: TupleKey) -> TupleLine:
    return TupleLine(
        object=key.object, relation=key.relation, user=key.user, condition=key.condition
    )


def _line_dict(key: TupleKey) -> dict[str, Any]:
    return msgspec.to_builtins(tuple_line(key))  # type: ignore[no-any-return]


def _write_problem(ts: TypeSystem, key: TupleKey) -> str:
    if key.user == f"{key.object}#{key.relation}":
        return "cannot write a tuple that is implicit"
    return tuple_problem(ts, key)


def _check_count(tuples: Sequence[TupleKey], limit: int, verb: str) -> None:
    if not tuples:
        raise InvalidInputError(f"nothing to {verb}: send at least one tuple in 'tuples'")
    if len(tuples) > limit:
        raise InvalidInputError(
            f"{len(tuples)} tuples exceed the limit of {limit} per {verb} call; import larger sets as JSON "
            "lines with POST /v1/admin/tuples/import"
        )


def _unique(tuples: Sequence[TupleKey]) -> list[TupleKey]:
    """Tuples with repeats dropped (the first occurrence wins): granting twice is granting once."""
    seen: dict[tuple[str, str, str], TupleKey] = {}
    for key in tuples:
        seen.setdefault(key.key, key)
    return list(seen.values())


@dataclass(frozen=True, kw_only=True, slots=True)
class GrantCommand:
    """Write tuples idempotently. Errors: ``InvalidInputError`` (empty or too many),
    ``InvalidTupleError`` naming the first tuple that does not fit the model,
    ``TupleConditionConflictError`` (409) for a stored tuple with another condition."""

    writer: TupleWriter
    resolver: ModelResolver
    max_tuples: int = DEFAULT_MAX_ADMIN_TUPLES

    async def execute(
        self,
        store_id: str,
        tuples: Sequence[TupleKey],
        *,
        model_id: str = "",
        audit: AuditRecord | None = None,
    ) -> ChangeOutcome:
        """Write the tuples; ``audit`` (completed with the model id) commits with them."""
        _check_count(tuples, self.max_tuples, "grant")
        ts = await self.resolver.resolve(store_id, model_id)
        for key in tuples:
            if problem := _write_problem(ts, key):
                raise InvalidTupleError(invalid_tuple_message(key, problem), tuple_str=str(key))
        audit = with_detail(audit, authorization_model_id=ts.model_id) if ts.model_id else audit
        result = await self.writer.write(
            store_id,
            writes=_unique(tuples),
            on_duplicate="ignore",
            audit=audit_for(self.writer, audit),
        )
        return ChangeOutcome(
            revision=result.revision,
            changed=result.changed,
            model_id=ts.model_id,
            audit=audit,
            audit_id=result.audit_id,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RevokeCommand:
    """Delete tuples idempotently (missing ones are skipped). Tuples are not checked against the
    model, so tuples an older model allowed can still be revoked."""

    writer: TupleWriter
    max_tuples: int = DEFAULT_MAX_ADMIN_TUPLES

    async def execute(
        self, store_id: str, tuples: Sequence[TupleKey], *, audit: AuditRecord | None = None
    ) -> ChangeOutcome:
        """Delete the tuples; ``audit`` commits with them."""
        _check_count(tuples, self.max_tuples, "revoke")
        for key in tuples:
            check_well_formed(key, empty_relation="empty")
        keys = [
            TupleKey(object=k.object, relation=k.relation, user=k.user) for k in _unique(tuples)
        ]
        result = await self.writer.write(
            store_id, deletes=keys, on_missing="ignore", audit=audit_for(self.writer, audit)
        )
        return ChangeOutcome(
            revision=result.revision, changed=result.changed, audit=audit, audit_id=result.audit_id
        )


def parse_filter(object: str = "", relation: str = "", user: str = "") -> ReadFilter:
    """A tuple filter from its wire fields: ``object`` is ``type:id`` or ``type:`` (every object of
    the type), ``user`` an exact user (``user:anne``, ``group:eng#member``, ``user:*``)."""
    reject_control_characters("object", object)
    reject_control_characters("relation", relation)
    reject_control_characters("user", user)
    object_type, object_id = "", ""
    if object:
        object_type, sep, object_id = object.partition(":")
        if not sep or not object_type:
            raise InvalidInputError(
                f"invalid object filter '{object}': expected 'type:id' or 'type:'"
            )
    if user:
        try:
            parse_subject(user)
        except InvalidRefError as err:
            raise InvalidInputError(f"invalid user filter '{user}': {err}") from err
    return ReadFilter(object_type=object_type, object_id=object_id, relation=relation, user=user)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeleteByFilterCommand:
    """Delete every tuple matching a filter in one revision (e.g. everything of a departing user).
    An empty filter would delete the whole store, so it needs ``everything=True``."""

    bulk: BulkTupleWriter

    async def execute(
        self,
        store_id: str,
        flt: ReadFilter,
        *,
        everything: bool = False,
        audit: AuditRecord | None = None,
    ) -> ChangeOutcome:
        """Delete the matching tuples; ``audit`` commits with them."""
        if flt == ReadFilter() and not everything:
            raise InvalidInputError(
                "an empty filter deletes every tuple of the store: name 'object', 'relation' and/or 'user', "
                'or send "all": true to really delete everything'
            )
        result = await self.bulk.bulk_delete(store_id, flt, audit=audit_for(self.bulk, audit))
        return ChangeOutcome(
            revision=result.revision, changed=result.changed, audit=audit, audit_id=result.audit_id
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ListGrantsQuery:
    """Stored tuples matching a filter (a user's grants, an object's grants), oldest first."""

    reader: TupleReader

    async def execute(
        self,
        store_id: str,
        flt: ReadFilter,
        *,
        page_size: int | None = None,
        continuation_token: str = "",
    ) -> Page[StoredTuple]:
        size = validate_page("ListGrantsRequest", page_size, continuation_token)
        return await self.reader.read_page(
            store_id, flt, page_size=size, continuation_token=continuation_token
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportTuplesQuery:
    """Every tuple matching a filter, as an async iterator over stable pages (oldest first).

    The export is not a snapshot: tuples written while it runs may or may not appear."""

    reader: TupleReader
    page_size: int = DEFAULT_EXPORT_PAGE_SIZE

    async def execute(self, store_id: str, flt: ReadFilter) -> AsyncIterator[TupleKey]:
        token = ""
        while True:
            page = await self.reader.read_page(
                store_id, flt, page_size=self.page_size, continuation_token=token
            )
            for row in page.items:
                yield row.key
            token = page.continuation_token
            if not token or not page.items:
                return


class ImportLineError(msgspec.Struct, frozen=True, kw_only=True):
    line: int
    """1-based line number in the uploaded body."""
    error: str


class ImportValidationError(CommandError):
    """An import had invalid lines; nothing was applied."""

    def __init__(self, errors: list[ImportLineError], failed: int, lines: int) -> None:
        first = errors[0]
        super().__init__(
            f"{failed} of {lines} lines are invalid, nothing was imported; first: line {first.line}: {first.error}"
        )
        self.errors = errors
        self.failed = failed
        self.lines = lines


class ImportOutcome(msgspec.Struct, frozen=True, kw_only=True):
    revision: Revision
    lines: int
    """Tuples read (non-empty lines)."""
    imported: int
    """Tuples newly stored (repeats and tuples already stored are skipped)."""
    model_id: str
    sample: list[TupleKey] = msgspec.field(default_factory=list)
    """The first tuples of the import."""
    audit: AuditRecord | None = None
    """The audit row as given to the writer (its detail lists ``sample`` and the model id)."""
    audit_id: int | None = None
    """The row's id when the import's own transaction appended it."""


_line_decoder = msgspec.json.Decoder(TupleLine)


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportTuplesCommand:
    """Validate a JSON-lines body completely, then store it in one revision (module docstring)."""

    bulk: BulkTupleWriter
    resolver: ModelResolver
    max_errors: int = DEFAULT_MAX_IMPORT_ERRORS

    async def execute(
        self,
        store_id: str,
        chunks: AsyncIterable[bytes],
        *,
        model_id: str = "",
        sample_size: int = 100,
        audit: AuditRecord | None = None,
    ) -> ImportOutcome:
        """Validate and store the lines. ``audit`` (its ``count_key`` should be ``imported``) is
        completed with the sample, the line count and the model id and committed with the import."""
        ts = await self.resolver.resolve(store_id, model_id)
        keys: list[TupleKey] = []
        errors: list[ImportLineError] = []
        failed = 0
        number = 0
        async for line in _lines(chunks):
            number += 1
            if not line.strip():
                continue
            try:
                key = _line_decoder.decode(line).key()
                # A control character refuses the whole import at once (400 validation_error, as on
                # every write path), not as one of the line errors that model mismatches are.
                check_tuple_text(key, f"import line {number}: TupleKey")
                problem = _write_problem(ts, key)
            except ControlCharacterError:
                raise
            except msgspec.DecodeError as err:
                problem = (
                    f'not a tuple: {err} (expected {{"object": ..., "relation": ..., "user": ...}})'
                )
            except (InvalidRefError, ValueError) as err:
                problem = str(err)
            if problem:
                failed += 1
                if len(errors) < self.max_errors:
                    errors.append(ImportLineError(line=number, error=problem))
                continue
            if not failed:
                keys.append(key)
        if failed:
            raise ImportValidationError(errors, failed, number)
        if not keys:
            raise InvalidInputError("the import is empty: send one JSON tuple per line")
        sample = keys[:sample_size]
        audit = with_detail(
            audit,
            **tuples_detail([_line_dict(k) for k in sample], len(keys)),
            authorization_model_id=ts.model_id,
        )
        result = await self.bulk.bulk_write(
            store_id, keys, on_duplicate="ignore", audit=audit_for(self.bulk, audit)
        )
        return ImportOutcome(
            revision=result.revision,
            lines=len(keys),
            imported=result.changed,
            model_id=ts.model_id,
            sample=sample,
            audit=audit,
            audit_id=result.audit_id,
        )


async def _lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line
    if pending:
        yield pending


class ModelChangeOrphansTuplesError(CommandError):
    """An upload would leave stored tuples that no longer fit the model; refused unless forced."""

    def __init__(self, outcome: ModelDiffOutcome) -> None:
        listed = ", ".join(str(k) for k in outcome.orphaned[:3])
        super().__init__(
            f"the new model would orphan {outcome.orphaned_count} stored tuple(s) (e.g. {listed}); revoke them "
            'first, or upload with "force": true to keep them stored but ignored by checks'
        )
        self.outcome = outcome


class ModelDiffOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The diff from the store's current model (``base_model_id``; ``""`` for a store without a
    model) and the stored tuples the new model would orphan (the first ones listed, all counted)."""

    base_model_id: str
    diff: ModelDiff
    orphaned: list[TupleKey]
    orphaned_count: int
    tuples_scanned: int


def _model_of(model_json: dict[str, Any]) -> AuthorizationModel:
    model = model_from_json(model_json)
    TypeSystem.validated(model)
    return model


@dataclass(frozen=True, kw_only=True, slots=True)
class DiffModelQuery:
    """Diff a candidate model (OpenFGA JSON form) against the store's latest or a given model, and
    find the stored tuples it would orphan (every tuple is tested against the candidate)."""

    models: ModelStore
    reader: TupleReader
    max_listed: int = DEFAULT_MAX_ORPHANS_LISTED

    async def execute(
        self, store_id: str, candidate: AuthorizationModel, *, base_model_id: str = ""
    ) -> ModelDiffOutcome:
        base: StoredModel | None
        if base_model_id:
            base = await self.models.read_model(store_id, base_model_id)
        else:
            base = await self.models.read_latest_model(store_id)
        if base is None:
            return ModelDiffOutcome(
                base_model_id="",
                diff=diff_models(AuthorizationModel(), candidate),
                orphaned=[],
                orphaned_count=0,
                tuples_scanned=0,
            )
        ts = TypeSystem.new(candidate)
        orphaned: list[TupleKey] = []
        count = scanned = 0
        async for key in ExportTuplesQuery(reader=self.reader).execute(store_id, ReadFilter()):
            scanned += 1
            if not tuple_fits_model(ts, key):
                count += 1
                if len(orphaned) < self.max_listed:
                    orphaned.append(key)
        return ModelDiffOutcome(
            base_model_id=base.id,
            diff=diff_models(base.model, candidate),
            orphaned=orphaned,
            orphaned_count=count,
            tuples_scanned=scanned,
        )


class UploadModelCommand:
    """Validate, diff, and store a model; refused with ``ModelChangeOrphansTuplesError`` when
    stored tuples would be orphaned, unless ``force``."""

    def __init__(self, *, models: ModelStore, reader: TupleReader) -> None:
        self._diff = DiffModelQuery(models=models, reader=reader)
        self._write = WriteAuthorizationModelCommand(models=models)

    async def execute(
        self, store_id: str, model_json: dict[str, Any], *, force: bool = False, dsl: str = ""
    ) -> tuple[StoredModel, ModelDiffOutcome]:
        outcome = await self._diff.execute(store_id, _model_of(model_json))
        if outcome.orphaned_count and not force:
            raise ModelChangeOrphansTuplesError(outcome)
        stored = await self._write.execute(store_id, model_json, dsl=dsl)
        return stored, outcome
