"""The admin API, ``/v1/admin/...``: only for the ``admin`` role (an API key or bootstrap key, or a
machine token carrying ``PERMSVC_ADMIN_SCOPE``; see :mod:`permsvc.api.security`). A credential
limited to one store acts on that store only: it creates keys limited to its store with at most
its own roles, and lists, revokes and audits only its store's keys and rows.

=========================================  ==============================================================
route                                      what
=========================================  ==============================================================
POST   /v1/admin/grants                    write tuples (idempotent, one revision, up to 10 000)
POST   /v1/admin/revokes                   delete tuples (idempotent, one revision, up to 10 000)
POST   /v1/admin/tuples/delete             delete every tuple matching a filter (a departing user)
POST   /v1/admin/tuples/import             JSON lines, validated completely, then one revision
GET    /v1/admin/tuples/export             JSON lines of every matching tuple (streamed)
GET    /v1/admin/users/{user}/grants       tuples naming the user (paged)
GET    /v1/admin/objects/{object}/grants   tuples on the object (paged)
POST   /v1/admin/models/validate           validate a model (DSL or JSON); 200 with the issues
POST   /v1/admin/models/diff               diff against the store's model + tuples it would orphan
POST   /v1/admin/models                    upload; refused (409) if tuples would be orphaned, unless forced
POST   /v1/admin/keys                      create an API key (its value is in this response only)
GET    /v1/admin/keys                      list keys (never their secrets)
DELETE /v1/admin/keys/{key_id}             revoke a key
GET    /v1/admin/audit                     the audit log, newest first, filtered and paged
GET    /v1/admin/audit/trace               one tuple's changes, each with who made it
=========================================  ==============================================================

Every change is recorded in the audit log (who, what, when, request id, resulting revision).
The store is ``store_id`` (body or query), else ``PERMSVC_STORE``. Errors use the service's
``{"code", "message"}`` body; an import with invalid lines adds ``lines``, ``failed`` and
``errors`` (``[{"line", "error"}]``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, Router
from litestar.params import FromPath, FromQuery, RawBody
from litestar.response import Stream

from permsvc.api.admin import schemas as s
from permsvc.api.deps import group_services
from permsvc.api.errors import ApiError, ErrorBody, error_response
from permsvc.api.openfga.convert import check_model_id, decode_body, decoders
from permsvc.api.routing import RouteGroup
from permsvc.api.security import (
    Principal,
    audit_log_of,
    key_store_of,
    principal_of,
    recorder_of,
    request_id,
    resolve_store,
)
from permsvc.auth.errors import ForbiddenError
from permsvc.auth.roles import expand_roles
from permsvc.commands.admin import (
    ChangeOutcome,
    DeleteByFilterCommand,
    DiffModelQuery,
    ExportTuplesQuery,
    GrantCommand,
    ImportTuplesCommand,
    ImportValidationError,
    ListGrantsQuery,
    ModelChangeOrphansTuplesError,
    ModelDiffOutcome,
    RevokeCommand,
    UploadModelCommand,
    parse_filter,
    tuple_line,
)
from permsvc.commands.audit import AuditRecorder, ReadAuditQuery, TraceTupleQuery, tuples_detail
from permsvc.commands.keys import (
    AdminKeyExistsError,
    ApiKeyNotFoundError,
    CreateApiKeyCommand,
    ListApiKeysQuery,
    RevokeApiKeyCommand,
    key_audit_detail,
    require_scope,
)
from permsvc.commands.read import PageSizeInvalidError
from permsvc.core.refs import TupleKey
from permsvc.core.revision import encode_token
from permsvc.model.compile import compile_dsl, json_source_to_model
from permsvc.model.errors import ModelError
from permsvc.model.json import model_to_json
from permsvc.model.typesystem import TypeSystem
from permsvc.store.protocol import ApiKeyRecord, AuditEntry, AuditFilter, ReadFilter, StoredTuple

if TYPE_CHECKING:
    from permsvc.api.deps import Deps
    from permsvc.model.schema import AuthorizationModel
    from permsvc.settings import Settings

__all__ = ("MAX_IMPORT_BYTES", "ROUTES", "build_router")

MAX_IMPORT_BYTES = 1024**3
"""Largest JSON-lines import body (the import is held in memory while it is validated)."""

_route = RouteGroup(["Admin"])
_STATE_KEY = "admin_services"
_NDJSON = "application/x-ndjson"

_DECODERS = decoders(s.TuplesRequest, s.DeleteByFilterRequest, s.ModelRequest, s.CreateKeyRequest)
_line_encoder = msgspec.json.Encoder()


class _Services:
    def __init__(self, deps: Deps) -> None:
        ds, models = deps.datastore, deps.models
        self.datastore = ds
        self.grant = GrantCommand(writer=ds, resolver=models)
        self.revoke = RevokeCommand(writer=ds)
        self.delete_by_filter = DeleteByFilterCommand(bulk=ds)  # type: ignore[arg-type]
        self.import_tuples = ImportTuplesCommand(bulk=ds, resolver=models)  # type: ignore[arg-type]
        self.export = ExportTuplesQuery(reader=ds)
        self.list_grants = ListGrantsQuery(reader=ds)
        self.diff_model = DiffModelQuery(models=ds, reader=ds)
        self.upload_model = UploadModelCommand(models=ds, reader=ds)
        keys = key_store_of(deps)
        log = audit_log_of(deps)
        self.keys = keys
        self.audit = ReadAuditQuery(log=log) if log is not None else None
        self.trace = TraceTupleQuery(changelog=ds, log=log) if log is not None else None


def _services(request: Request[Any, Any, Any]) -> _Services:
    return group_services(request.app.state, _STATE_KEY, _Services)


def _decode(body: bytes, kind: type[Any]) -> Any:
    return decode_body(_DECODERS[kind], body, kind.__name__)


async def _audit(
    request: Request[Any, Any, Any],
    principal: Principal,
    action: str,
    *,
    store_id: str = "",
    detail: dict[str, Any] | None = None,
    revision: int | None = None,
) -> int | None:
    return await recorder_of(request).record(
        actor=principal.actor,
        action=action,
        store_id=store_id,
        detail=detail,
        request_id=request_id(request),
        revision=revision,
    )


def _line_dict(key: TupleKey) -> dict[str, Any]:
    return msgspec.to_builtins(tuple_line(key))  # type: ignore[no-any-return]


def _page_size(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise PageSizeInvalidError(
            "invalid page_size: value must be an integer in range [1, 100]"
        ) from None


def _keys_of(services: _Services) -> Any:
    if services.keys is None:
        raise ApiError("unavailable", "this datastore keeps no API keys", status=501)
    return services.keys


# -- grants --------------------------------------------------------------------------------------


async def _change(request: Request[Any, Any, Any], body: bytes, action: str) -> s.ChangeResponse:
    req: s.TuplesRequest = _decode(body, s.TuplesRequest)
    principal = principal_of(request)
    store = resolve_store(request, principal, req.store_id)
    keys = [line.key() for line in req.tuples]
    services = _services(request)
    recorder = recorder_of(request)
    audit = recorder.draft(
        actor=principal.actor,
        action=action,
        detail=tuples_detail([_line_dict(k) for k in keys]),
        request_id=request_id(request),
    )
    if action == "grant":
        check_model_id(req.authorization_model_id, "GrantRequest")
        outcome = await services.grant.execute(
            store, keys, model_id=req.authorization_model_id, audit=audit
        )
    else:
        outcome = await services.revoke.execute(store, keys, audit=audit)
    return s.ChangeResponse(
        store_id=store,
        changed=outcome.changed,
        revision=outcome.revision,
        consistency_token=encode_token(store, outcome.revision),
        audit_id=await _settle(recorder, store, outcome),
    )


async def _settle(recorder: AuditRecorder, store: str, outcome: ChangeOutcome) -> int | None:
    return await recorder.settle(
        outcome.audit,
        store,
        revision=outcome.revision,
        changed=outcome.changed,
        audit_id=outcome.audit_id,
    )


@_route("POST", "/v1/admin/grants", "AdminGrant")
async def grant(request: Request[Any, Any, Any], body: RawBody) -> s.ChangeResponse:
    """Grant: write tuples idempotently, as one revision"""
    return await _change(request, body, "grant")


@_route("POST", "/v1/admin/revokes", "AdminRevoke")
async def revoke(request: Request[Any, Any, Any], body: RawBody) -> s.ChangeResponse:
    """Revoke: delete tuples idempotently, as one revision"""
    return await _change(request, body, "revoke")


@_route("POST", "/v1/admin/tuples/delete", "AdminDeleteByFilter")
async def delete_by_filter(request: Request[Any, Any, Any], body: RawBody) -> s.ChangeResponse:
    """Delete every tuple matching a filter (e.g. everything of a departing user)"""
    req: s.DeleteByFilterRequest = _decode(body, s.DeleteByFilterRequest)
    principal = principal_of(request)
    store = resolve_store(request, principal, req.store_id)
    flt = parse_filter(req.object, req.relation, req.user)
    recorder = recorder_of(request)
    audit = recorder.draft(
        actor=principal.actor,
        action="delete_by_filter",
        detail={
            "filter": {"object": req.object, "relation": req.relation, "user": req.user},
            "all": req.all,
        },
        request_id=request_id(request),
    )
    outcome = await _services(request).delete_by_filter.execute(
        store, flt, everything=req.all, audit=audit
    )
    return s.ChangeResponse(
        store_id=store,
        changed=outcome.changed,
        revision=outcome.revision,
        consistency_token=encode_token(store, outcome.revision),
        audit_id=await _settle(recorder, store, outcome),
    )


@_route(
    "POST", "/v1/admin/tuples/import", "AdminImportTuples", request_max_body_size=MAX_IMPORT_BYTES
)
async def import_tuples(
    request: Request[Any, Any, Any],
    store_id: FromQuery[str | None] = None,
    authorization_model_id: FromQuery[str | None] = None,
) -> s.ImportResponse:
    """Import JSON lines (one tuple per line): validated completely, then applied as one revision"""
    principal = principal_of(request)
    store = resolve_store(request, principal, store_id)
    check_model_id(authorization_model_id or "", "ImportRequest")
    recorder = recorder_of(request)
    audit = recorder.draft(
        actor=principal.actor,
        action="import",
        request_id=request_id(request),
        count_key="imported",
    )
    outcome = await _services(request).import_tuples.execute(
        store, request.stream(), model_id=authorization_model_id or "", audit=audit
    )
    audit_id = await recorder.settle(
        outcome.audit,
        store,
        revision=outcome.revision,
        changed=outcome.imported,
        audit_id=outcome.audit_id,
    )
    return s.ImportResponse(
        store_id=store,
        lines=outcome.lines,
        imported=outcome.imported,
        revision=outcome.revision,
        consistency_token=encode_token(store, outcome.revision),
        authorization_model_id=outcome.model_id,
        audit_id=audit_id,
    )


@_route("GET", "/v1/admin/tuples/export", "AdminExportTuples")
async def export_tuples(
    request: Request[Any, Any, Any],
    store_id: FromQuery[str | None] = None,
    object: FromQuery[str | None] = None,
    relation: FromQuery[str | None] = None,
    user: FromQuery[str | None] = None,
) -> Stream:
    """Export JSON lines of every tuple matching the filter (the import's format)"""
    principal = principal_of(request)
    store = resolve_store(request, principal, store_id)
    flt = parse_filter(object or "", relation or "", user or "")
    services = _services(request)
    await services.datastore.get_store(store)
    await _audit(
        request,
        principal,
        "export",
        store_id=store,
        detail={"filter": {"object": object or "", "relation": relation or "", "user": user or ""}},
    )

    async def lines() -> AsyncIterator[bytes]:
        async for key in services.export.execute(store, flt):
            yield _line_encoder.encode(tuple_line(key)) + b"\n"

    return Stream(lines(), media_type=_NDJSON)


def _stored(row: StoredTuple) -> s.StoredTupleOut:
    key = row.key
    condition = msgspec.to_builtins(key.condition) if key.condition is not None else None
    return s.StoredTupleOut(
        object=key.object,
        relation=key.relation,
        user=key.user,
        condition=condition,
        timestamp=row.timestamp,
    )


async def _grants(
    request: Request[Any, Any, Any],
    flt: ReadFilter,
    store_id: str | None,
    page_size: str | None,
    token: str | None,
) -> s.GrantsResponse:
    principal = principal_of(request)
    store = resolve_store(request, principal, store_id)
    page = await _services(request).list_grants.execute(
        store, flt, page_size=_page_size(page_size), continuation_token=token or ""
    )
    return s.GrantsResponse(
        store_id=store,
        tuples=[_stored(r) for r in page.items],
        continuation_token=page.continuation_token,
    )


@_route("GET", "/v1/admin/users/{user:str}/grants", "AdminListUserGrants")
async def user_grants(
    request: Request[Any, Any, Any],
    user: FromPath[str],
    store_id: FromQuery[str | None] = None,
    page_size: FromQuery[str | None] = None,
    continuation_token: FromQuery[str | None] = None,
) -> s.GrantsResponse:
    """The tuples naming a user (its direct grants), oldest first"""
    return await _grants(request, parse_filter(user=user), store_id, page_size, continuation_token)


@_route("GET", "/v1/admin/objects/{object:str}/grants", "AdminListObjectGrants")
async def object_grants(
    request: Request[Any, Any, Any],
    object: FromPath[str],
    store_id: FromQuery[str | None] = None,
    relation: FromQuery[str | None] = None,
    page_size: FromQuery[str | None] = None,
    continuation_token: FromQuery[str | None] = None,
) -> s.GrantsResponse:
    """The tuples on an object, oldest first"""
    if ":" not in object or object.endswith(":"):
        raise ApiError("validation_error", f"invalid object '{object}': expected 'type:id'")
    return await _grants(
        request,
        parse_filter(object=object, relation=relation or ""),
        store_id,
        page_size,
        continuation_token,
    )


# -- models --------------------------------------------------------------------------------------


def _candidate(req: s.ModelRequest) -> tuple[AuthorizationModel, dict[str, Any]]:
    """The request's model, compiled and validated (``ModelError`` lists every issue)."""
    if bool(req.dsl) == (req.model is not None):
        raise ApiError(
            "validation_error",
            "send the model either as 'dsl' (DSL text) or as 'model' (OpenFGA JSON)",
        )
    if req.dsl:
        model = compile_dsl(req.dsl).model
    else:
        model = json_source_to_model(msgspec.json.encode(req.model).decode())
    TypeSystem.validated(model)
    return model, model_to_json(model)


def _diff_out(store: str, outcome: ModelDiffOutcome) -> s.ModelDiffResponse:
    return s.ModelDiffResponse(
        store_id=store,
        base_model_id=outcome.base_model_id,
        diff=msgspec.to_builtins(outcome.diff),
        breaking=outcome.diff.breaking,
        orphaned_tuples=[tuple_line(k) for k in outcome.orphaned],
        orphaned_count=outcome.orphaned_count,
        tuples_scanned=outcome.tuples_scanned,
    )


@_route("POST", "/v1/admin/models/validate", "AdminValidateModel")
async def validate_model(
    request: Request[Any, Any, Any], body: RawBody
) -> s.ModelValidationResponse:
    """Validate a model (DSL or JSON): every issue, located"""
    req: s.ModelRequest = _decode(body, s.ModelRequest)
    try:
        _, model_json = _candidate(req)
    except ModelError as err:
        issues = [
            s.IssueOut(
                message=i.message,
                line=i.line,
                column=i.column,
                object_type=i.object_type,
                relation=i.relation,
            )
            for i in err.issues
        ]
        return s.ModelValidationResponse(valid=False, issues=issues)
    return s.ModelValidationResponse(valid=True, issues=[], model=model_json)


@_route("POST", "/v1/admin/models/diff", "AdminDiffModel")
async def diff_model(request: Request[Any, Any, Any], body: RawBody) -> s.ModelDiffResponse:
    """Diff a model against the store's current one, and list the stored tuples it would orphan"""
    req: s.ModelRequest = _decode(body, s.ModelRequest)
    principal = principal_of(request)
    store = resolve_store(request, principal, req.store_id)
    check_model_id(req.base_model_id, "DiffModelRequest", field="BaseModelId")
    model, _ = _candidate(req)
    outcome = await _services(request).diff_model.execute(
        store, model, base_model_id=req.base_model_id
    )
    return _diff_out(store, outcome)


@_route("POST", "/v1/admin/models", "AdminUploadModel", status_code=201)
async def upload_model(request: Request[Any, Any, Any], body: RawBody) -> s.ModelUploadResponse:
    """Upload a model; refused when stored tuples would be orphaned, unless 'force'"""
    req: s.ModelRequest = _decode(body, s.ModelRequest)
    principal = principal_of(request)
    store = resolve_store(request, principal, req.store_id)
    _, model_json = _candidate(req)
    stored, outcome = await _services(request).upload_model.execute(
        store, model_json, force=req.force, dsl=req.dsl
    )
    detail = {
        "authorization_model_id": stored.id,
        "base_model_id": outcome.base_model_id,
        "forced": req.force,
        "orphaned_count": outcome.orphaned_count,
        "diff": msgspec.to_builtins(outcome.diff),
    }
    audit_id = await _audit(request, principal, "model_write", store_id=store, detail=detail)
    return s.ModelUploadResponse(
        store_id=store,
        authorization_model_id=stored.id,
        diff=_diff_out(store, outcome),
        audit_id=audit_id,
    )


# -- API keys ------------------------------------------------------------------------------------


def _key_out(record: ApiKeyRecord) -> s.ApiKeyOut:
    return s.ApiKeyOut(
        id=record.id,
        roles=list(record.roles),
        scope=record.scope,
        store_id=record.store_id,
        name=record.name,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


@_route("POST", "/v1/admin/keys", "AdminCreateKey", status_code=201)
async def create_key(
    request: Request[Any, Any, Any], body: RawBody
) -> Response[s.CreatedKeyResponse]:
    """Create an API key; its value is returned this once (only a hash is stored)"""
    req: s.CreateKeyRequest = _decode(body, s.CreateKeyRequest)
    principal = principal_of(request)
    if (req.roles is None) == (req.scope is None):
        raise ApiError(
            "validation_error", "send the key's roles as 'roles', a list such as [\"check\"]"
        )
    roles = req.roles if req.roles is not None else req.scope
    store_id = req.store_id or None
    if principal.store_id is not None:
        if store_id is None:
            store_id = principal.store_id  # a store-limited admin mints keys for its own store only
        resolve_store(request, principal, store_id)
    elif store_id is not None:
        resolve_store(request, principal, store_id)
    command = CreateApiKeyCommand(keys=_keys_of(_services(request)))
    checked = require_scope(roles or [])
    beyond = expand_roles(checked.split()) - principal.roles
    if beyond:
        raise ForbiddenError(
            f"{principal.describe()} cannot create a key with roles it lacks ({', '.join(sorted(beyond))})"
        )
    created = await command.execute(checked, store_id=store_id, name=req.name)
    request.app.state.deps.security.close()
    record = created.record
    await _audit(
        request,
        principal,
        "key_create",
        store_id=record.store_id or "",
        detail=key_audit_detail(record),
    )
    return Response(
        s.CreatedKeyResponse(key=created.key, info=_key_out(record)),
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@_route("GET", "/v1/admin/keys", "AdminListKeys")
async def list_keys(
    request: Request[Any, Any, Any], include_revoked: FromQuery[bool] = False
) -> s.KeysResponse:
    """List API keys (ids and scopes, never secrets)"""
    principal = principal_of(request)
    records = await ListApiKeysQuery(keys=_keys_of(_services(request))).execute(
        include_revoked=include_revoked
    )
    if principal.store_id is not None:
        records = [r for r in records if r.store_id == principal.store_id]
    return s.KeysResponse(keys=[_key_out(r) for r in records])


@_route("DELETE", "/v1/admin/keys/{key_id:str}", "AdminRevokeKey")
async def revoke_key(request: Request[Any, Any, Any], key_id: FromPath[str]) -> s.ApiKeyOut:
    """Revoke an API key (idempotent)"""
    principal = principal_of(request)
    keys = _keys_of(_services(request))
    if principal.store_id is not None:
        existing = await keys.get_api_key(key_id)
        if existing is None or existing.store_id != principal.store_id:
            # Another store's key (or a global one) is invisible to a store-limited admin.
            raise ApiKeyNotFoundError(key_id[:64])
    record = await RevokeApiKeyCommand(keys=keys).execute(key_id)
    await _audit(
        request,
        principal,
        "key_revoke",
        store_id=record.store_id or "",
        detail={"key_id": record.id, "roles": list(record.roles)},
    )
    return _key_out(record)


# -- audit ---------------------------------------------------------------------------------------


def _time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            "validation_error",
            f"invalid '{name}': expected an RFC 3339 time such as 2026-01-31T12:00:00Z",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _entry_out(entry: AuditEntry) -> s.AuditEntryOut:
    return msgspec.convert(entry, s.AuditEntryOut, from_attributes=True)


@_route("GET", "/v1/admin/audit", "AdminReadAudit")
async def read_audit(
    request: Request[Any, Any, Any],
    store_id: FromQuery[str | None] = None,
    actor: FromQuery[str | None] = None,
    action: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    page_size: FromQuery[str | None] = None,
    continuation_token: FromQuery[str | None] = None,
) -> s.AuditResponse:
    """The audit log, newest first"""
    principal = principal_of(request)
    services = _services(request)
    if services.audit is None:
        raise ApiError("unavailable", "this datastore keeps no audit log", status=501)
    if principal.store_id is not None:
        store_id = resolve_store(request, principal, store_id or principal.store_id)
    flt = AuditFilter(
        store_id=store_id or "",
        actor=actor or "",
        action=action or "",
        since=_time(since, "since"),
        until=_time(until, "until"),
    )
    page = await services.audit.execute(
        flt, page_size=_page_size(page_size), continuation_token=continuation_token or ""
    )
    return s.AuditResponse(
        entries=[_entry_out(e) for e in page.items], continuation_token=page.continuation_token
    )


@_route("GET", "/v1/admin/audit/trace", "AdminTraceTuple")
async def trace_tuple(
    request: Request[Any, Any, Any],
    object: FromQuery[str],
    relation: FromQuery[str],
    user: FromQuery[str],
    store_id: FromQuery[str | None] = None,
) -> s.TraceResponse:
    """Who granted and revoked a tuple: its changes, each with the audit rows of its revision"""
    principal = principal_of(request)
    services = _services(request)
    if services.trace is None:
        raise ApiError("unavailable", "this datastore keeps no audit log", status=501)
    store = resolve_store(request, principal, store_id)
    key = TupleKey(object=object, relation=relation, user=user)
    traces = await services.trace.execute(store, key)
    return s.TraceResponse(
        store_id=store,
        tuple=tuple_line(key),
        changes=[
            s.TraceOut(
                operation=t.operation,
                revision=t.revision,
                timestamp=t.timestamp,
                audit=[_entry_out(e) for e in t.audit],
            )
            for t in traces
        ],
    )


# -- errors of this surface ------------------------------------------------------------------------


def _import_failed(_: Request[Any, Any, Any], exc: ImportValidationError) -> Response[Any]:
    body = s.ImportErrorResponse(
        code="import_validation_failed",
        message=exc.detail,
        lines=exc.lines,
        failed=exc.failed,
        errors=[s.LineErrorOut(e.line, e.error) for e in exc.errors],
    )
    return Response(body, status_code=400)


def _orphans(_: Request[Any, Any, Any], exc: ModelChangeOrphansTuplesError) -> Response[Any]:
    outcome = exc.outcome
    body = {
        "code": "model_change_orphans_tuples",
        "message": exc.detail,
        "orphaned_count": outcome.orphaned_count,
        "orphaned_tuples": [msgspec.to_builtins(tuple_line(k)) for k in outcome.orphaned],
        "base_model_id": outcome.base_model_id,
        "diff": msgspec.to_builtins(outcome.diff),
    }
    return Response(body, status_code=409)


def _key_missing(_: Request[Any, Any, Any], exc: ApiKeyNotFoundError) -> Response[bytes]:
    return error_response(404, ErrorBody("api_key_not_found", exc.detail))


def _key_exists(_: Request[Any, Any, Any], exc: AdminKeyExistsError) -> Response[bytes]:
    return error_response(409, ErrorBody("admin_key_exists", exc.detail))


ROUTES = (
    grant,
    revoke,
    delete_by_filter,
    import_tuples,
    export_tuples,
    user_grants,
    object_grants,
    validate_model,
    diff_model,
    upload_model,
    create_key,
    list_keys,
    revoke_key,
    read_audit,
    trace_tuple,
)


def build_router(settings: Settings) -> Router:
    """The admin route group (admitted by the front door of :mod:`permsvc.api.security`)."""
    return Router(
        path="/",
        route_handlers=list(ROUTES),
        exception_handlers={
            ImportValidationError: _import_failed,
            ModelChangeOrphansTuplesError: _orphans,
            ApiKeyNotFoundError: _key_missing,
            AdminKeyExistsError: _key_exists,
        },
    )
