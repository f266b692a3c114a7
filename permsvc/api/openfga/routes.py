"""The OpenFGA HTTP API (openfga/api v1), wire-compatible with OpenFGA's gateway.

Every handler is thin: validate and decode the wire Struct, run one command, encode the result.
Bodies are decoded here with pre-built msgspec decoders (not by the framework) so that a bad body
gets OpenFGA's ``validation_error`` wording and costs one decode. Headers on responses:

- ``Openfga-Authorization-Model-Id``: the model a model-resolving call used (as OpenFGA);
- ``X-Permsvc-Consistency-Token``: on Write, the token of the revision the write is visible at;
- ``X-Permsvc-Revision``: on reads, the store revision the answer was computed at.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec
from litestar import Request, Response, Router
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody
from litestar.params import FromPath, FromQuery, RawBody
from litestar.response import Stream

from permsvc.api.admin.audit import draft_openfga_write, record_openfga_write, settle_openfga_write
from permsvc.api.errors import ERROR_CODES, ApiError, ErrorBody, translate
from permsvc.api.openfga import schemas as s
from permsvc.api.openfga.convert import (
    assertion_from_wire,
    check_consistency,
    check_model_id,
    check_store_id,
    contextual_tuples,
    decode_body,
    decoders,
    model_to_wire,
    parse_start_time,
    require_pattern,
    tuple_from_wire,
)
from permsvc.api.ops import request_id_of
from permsvc.api.routing import RouteGroup
from permsvc.api.security import principal_of
from permsvc.commands.assertions import ReadAssertionsQuery, WriteAssertionsCommand
from permsvc.commands.batch_check import BatchCheckItem, BatchCheckParams, BatchCheckQuery
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.expand import ExpandParams, ExpandQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_users import ListUsersParams, ListUsersQuery, UserFilter
from permsvc.commands.models import (
    ListAuthorizationModelsQuery,
    ReadAuthorizationModelQuery,
    WriteAuthorizationModelCommand,
)
from permsvc.commands.read import PageSizeInvalidError, ReadParams, ReadQuery
from permsvc.commands.read_changes import ReadChangesParams, ReadChangesQuery
from permsvc.commands.stores import (
    CreateStoreCommand,
    DeleteStoreCommand,
    GetStoreQuery,
    ListStoresQuery,
)
from permsvc.commands.write import WriteCommand, WriteParams
from permsvc.core.refs import TupleKey
from permsvc.core.revision import Consistency, encode_token
from permsvc.store.errors import StoreNotFoundError

if TYPE_CHECKING:
    from permsvc.api.deps import Deps
    from permsvc.store.protocol import StoredModel, StoredTuple, StoreInfo
    from permsvc.store.protocol import TupleChange as DomainChange

__all__ = (
    "MODEL_ID_HEADER",
    "REVISION_HEADER",
    "TOKEN_HEADER",
    "build_router",
    "run_check",
    "services_of",
)

MODEL_ID_HEADER = "Openfga-Authorization-Model-Id"
TOKEN_HEADER = "X-Permsvc-Consistency-Token"
REVISION_HEADER = "X-Permsvc-Revision"

_stores = RouteGroup(["Stores"])
_models = RouteGroup(["Authorization Models"])
_tuples = RouteGroup(["Relationship Tuples"])
_queries = RouteGroup(["Relationship Queries"])
_assertions = RouteGroup(["Assertions"])


class _QueryRequest(Protocol):
    @property
    def authorization_model_id(self) -> str: ...
    @property
    def consistency(self) -> s.WireConsistency: ...
    @property
    def consistency_token(self) -> str: ...


Q = TypeVar("Q", bound=_QueryRequest)

_DECODERS = decoders(
    s.CreateStoreRequest,
    s.WriteRequest,
    s.ReadRequest,
    s.CheckRequest,
    s.BatchCheckRequest,
    s.ExpandRequest,
    s.ListObjectsRequest,
    s.ListUsersRequest,
    s.WriteAssertionsRequest,
)
"""Built once at import (msgspec's advice): a decoder per request type."""


def _decode(body: bytes, kind: type[Any]) -> Any:
    return decode_body(_DECODERS[kind], body, kind.__name__)


def _decode_query(
    store_id: str, body: bytes, kind: type[Q], name: str = ""
) -> tuple[Q, Consistency]:
    """What every query starts with: the store id, the body, the model id and the consistency,
    with errors naming ``name`` (default: the request type's name) as OpenFGA's validator does."""
    name = name or kind.__name__
    check_store_id(store_id, name)
    req = decode_body(_DECODERS[kind], body, name)
    check_model_id(req.authorization_model_id, name)
    return req, check_consistency(req.consistency, req.consistency_token, name)


def _inline_schema(kind: type[Any]) -> dict[str, Any]:
    """The JSON Schema of a (non-recursive) request Struct with every ``$ref`` inlined."""
    schema = msgspec.json.schema(kind)
    defs = schema.pop("$defs", {})

    def expand(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                return expand(defs[ref.rsplit("/", 1)[1]])
            return {k: expand(v) for k, v in node.items()}
        if isinstance(node, list):
            return [expand(v) for v in node]
        return node

    return expand(schema)  # type: ignore[no-any-return]


def _documented_body(schema: dict[str, Any]) -> type[Operation]:
    """An Operation type documenting ``schema`` as the JSON request body.

    Bodies are decoded by the handlers themselves (OpenFGA's error wording, one decode), so
    Litestar cannot infer them from the signature; this puts them back into the OpenAPI document.
    """

    @dataclass
    class _WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)},  # type: ignore[arg-type]
                required=True,
            )

    return _WithBody


_BODY_OPERATIONS = {kind: _documented_body(_inline_schema(kind)) for kind in _DECODERS}
_MODEL_BODY = _documented_body(
    {
        "type": "object",
        "description": "An authorization model in OpenFGA's JSON form (`fga model transform` prints it).",
        "properties": {
            "schema_version": {"type": "string", "enum": ["1.1", "1.2"]},
            "type_definitions": {"type": "array", "items": {"type": "object"}, "minItems": 1},
            "conditions": {"type": "object"},
        },
        "required": ["type_definitions"],
    }
)


_model_json_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_line_encoder = msgspec.json.Encoder()
_log = logging.getLogger("permsvc.api")


class _Services:
    """The commands of this surface, built once per app from the shared dependencies."""

    def __init__(self, deps: Deps) -> None:
        ds, models, limits = deps.datastore, deps.models, deps.settings.limits
        self.metrics = deps.metrics
        self.create_store = CreateStoreCommand(stores=ds)
        self.get_store = GetStoreQuery(stores=ds)
        self.list_stores = ListStoresQuery(stores=ds)
        self.delete_store = DeleteStoreCommand(stores=ds)
        self.write_model = WriteAuthorizationModelCommand(models=ds)
        self.read_model = ReadAuthorizationModelQuery(models=ds)
        self.list_models = ListAuthorizationModelsQuery(models=ds)
        self.write = WriteCommand(writer=ds, resolver=models)
        self.read = ReadQuery(reader=ds)
        self.read_changes = ReadChangesQuery(changelog=ds)
        self.check = CheckQuery(reader=ds, resolver=models, limits=limits, checker=deps.checker)
        self.batch_check = BatchCheckQuery(
            reader=ds, resolver=models, limits=limits, checker=deps.checker
        )
        self.expand = ExpandQuery(reader=ds, resolver=models, limits=limits)
        self.list_objects = ListObjectsQuery(reader=ds, resolver=models, limits=limits)
        self.list_users = ListUsersQuery(reader=ds, resolver=models, limits=limits)
        self.write_assertions = WriteAssertionsCommand(assertions=ds, resolver=models)
        self.read_assertions = ReadAssertionsQuery(assertions=ds)
        self.models = models


def _services(request: Request[Any, Any, Any]) -> _Services:
    return services_of(request.app.state)


def services_of(state: Any) -> _Services:
    """The surface's commands for an app's state (built on first use)."""
    services: _Services | None = state.get("openfga_services")
    if services is None:
        services = state["openfga_services"] = _Services(state.deps)
    return services


def _page_size(value: int | str | None, request: str) -> int | None:
    """A page size from a query parameter or a body field (protojson takes 32-bit integers as
    numbers or strings; an empty string is unset)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        raise PageSizeInvalidError(
            f"invalid {request}.PageSize: value must be an integer in range [1, 100]"
        ) from None


def _model_headers(model_id: str, revision: int | None = None) -> dict[str, str]:
    headers = {MODEL_ID_HEADER: model_id}
    if revision is not None:
        headers[REVISION_HEADER] = str(revision)
    return headers


# -- wire conversions ----------------------------------------------------------------------------


def _store(info: StoreInfo) -> s.Store:
    return s.Store(info.id, info.name, info.created_at, info.updated_at, info.deleted_at)


def _tuple_key_out(key: TupleKey) -> s.TupleKeyOut:
    cond = key.condition
    return s.TupleKeyOut(
        key.user,
        key.relation,
        key.object,
        s.ConditionOut(cond.name, cond.context) if cond is not None else None,
    )


def _stored_tuple(row: StoredTuple) -> s.Tuple:
    return s.Tuple(_tuple_key_out(row.key), row.timestamp)


_OPERATIONS = {"write": "TUPLE_OPERATION_WRITE", "delete": "TUPLE_OPERATION_DELETE"}


def _change(change: DomainChange) -> s.TupleChange:
    return s.TupleChange(
        _tuple_key_out(change.key), _OPERATIONS[change.operation], change.timestamp
    )


def _user_out(user: str) -> s.User:
    obj, _, relation = user.partition("#")
    type_, _, id_ = obj.partition(":")
    if relation:
        return s.User(userset=s.UsersetUser(type_, id_, relation))
    if id_ == "*":
        return s.User(wildcard=s.TypedWildcard(type_))
    return s.User(object=s.FgaObjectOut(type_, id_))


def _without_condition(key: TupleKey) -> TupleKey:
    """Deletes identify a tuple by its key; a condition sent with one is ignored (as OpenFGA does)."""
    return (
        key
        if key.condition is None
        else TupleKey(object=key.object, relation=key.relation, user=key.user)
    )


def _check_key(key: s.CheckRequestTupleKey | None, request: str) -> TupleKey:
    if key is None:
        raise ApiError("validation_error", f"invalid {request}.TupleKey: value is required")
    return tuple_from_wire(
        s.TupleKeyIn(user=key.user, relation=key.relation, object=key.object),
        "CheckRequestTupleKey",
    )


# -- stores ------------------------------------------------------------------------------------


@_stores("GET", "/stores", "ListStores")
async def list_stores(
    request: Request[Any, Any, Any],
    page_size: FromQuery[str | None] = None,
    continuation_token: FromQuery[str | None] = None,
    name: FromQuery[str | None] = None,
) -> s.ListStoresResponse:
    """List all stores"""
    limit = principal_of(request).store_id
    if limit is not None:
        # A credential limited to one store sees that store only.
        try:
            info = await request.app.state.deps.datastore.get_store(limit)
        except StoreNotFoundError:
            return s.ListStoresResponse([], "")
        return s.ListStoresResponse([_store(info)] if not name or name == info.name else [], "")
    page = await _services(request).list_stores.execute(
        page_size=_page_size(page_size, "ListStoresRequest"),
        continuation_token=continuation_token or "",
        name=name or "",
    )
    return s.ListStoresResponse([_store(i) for i in page.items], page.continuation_token)


@_stores(
    "POST",
    "/stores",
    "CreateStore",
    status_code=201,
    operation_class=_BODY_OPERATIONS[s.CreateStoreRequest],
)
async def create_store(request: Request[Any, Any, Any], body: RawBody) -> s.CreateStoreResponse:
    """Create a store"""
    req: s.CreateStoreRequest = _decode(body, s.CreateStoreRequest)
    info = await _services(request).create_store.execute(req.name)
    await record_openfga_write(request, "store_create", info.id, name=info.name)
    return s.CreateStoreResponse(info.id, info.name, info.created_at, info.updated_at)


@_stores("GET", "/stores/{store_id:str}", "GetStore")
async def get_store(request: Request[Any, Any, Any], store_id: FromPath[str]) -> s.Store:
    """Get a store"""
    check_store_id(store_id, "GetStoreRequest")
    return _store(await _services(request).get_store.execute(store_id))


@_stores("DELETE", "/stores/{store_id:str}", "DeleteStore", status_code=204)
async def delete_store(request: Request[Any, Any, Any], store_id: FromPath[str]) -> None:
    """Delete a store"""
    check_store_id(store_id, "DeleteStoreRequest")
    await _services(request).delete_store.execute(store_id)
    await record_openfga_write(request, "store_delete", store_id)


# -- authorization models ------------------------------------------------------------------------


@_models("GET", "/stores/{store_id:str}/authorization-models", "ReadAuthorizationModels")
async def read_authorization_models(
    request: Request[Any, Any, Any],
    store_id: FromPath[str],
    page_size: FromQuery[str | None] = None,
    continuation_token: FromQuery[str | None] = None,
) -> s.ReadAuthorizationModelsResponse:
    """Return all the authorization models for a particular store, newest first"""
    check_store_id(store_id, "ReadAuthorizationModelsRequest")
    page = await _services(request).list_models.execute(
        store_id,
        page_size=_page_size(page_size, "ReadAuthorizationModelsRequest"),
        continuation_token=continuation_token or "",
    )
    return s.ReadAuthorizationModelsResponse(
        [model_to_wire(m) for m in page.items], page.continuation_token
    )


@_models(
    "POST",
    "/stores/{store_id:str}/authorization-models",
    "WriteAuthorizationModel",
    status_code=201,
    operation_class=_MODEL_BODY,
)
async def write_authorization_model(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> s.WriteAuthorizationModelResponse:
    """Create a new authorization model"""
    check_store_id(store_id, "WriteAuthorizationModelRequest")
    model_json = decode_body(_model_json_decoder, body, "WriteAuthorizationModelRequest")
    if not isinstance(model_json, dict):
        raise ApiError(
            "validation_error", "invalid WriteAuthorizationModelRequest: expected a JSON object"
        )
    stored: StoredModel = await _services(request).write_model.execute(store_id, model_json)
    await record_openfga_write(request, "model_write", store_id, authorization_model_id=stored.id)
    return s.WriteAuthorizationModelResponse(stored.id)


@_models("GET", "/stores/{store_id:str}/authorization-models/{id:str}", "ReadAuthorizationModel")
async def read_authorization_model(
    request: Request[Any, Any, Any], store_id: FromPath[str], id: FromPath[str]
) -> s.ReadAuthorizationModelResponse:
    """Return a particular version of an authorization model"""
    check_store_id(store_id, "ReadAuthorizationModelRequest")
    check_model_id(id, "ReadAuthorizationModelRequest", field="Id")
    stored = await _services(request).read_model.execute(store_id, id)
    return s.ReadAuthorizationModelResponse(model_to_wire(stored))


# -- tuples ------------------------------------------------------------------------------------


@_tuples(
    "POST",
    "/stores/{store_id:str}/write",
    "Write",
    operation_class=_BODY_OPERATIONS[s.WriteRequest],
)
async def write(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[s.WriteResponse]:
    """Add or delete tuples"""
    check_store_id(store_id, "WriteRequest")
    req: s.WriteRequest = _decode(body, s.WriteRequest)
    check_model_id(req.authorization_model_id, "WriteRequest")
    writes = (req.writes.tuple_keys or []) if req.writes is not None else []
    deletes = (req.deletes.tuple_keys or []) if req.deletes is not None else []
    write_keys = tuple(tuple_from_wire(k) for k in writes)
    delete_keys = tuple(tuple_from_wire(k) for k in deletes)
    audit = draft_openfga_write(request, writes=write_keys, deletes=delete_keys)
    outcome = await _services(request).write.execute(
        WriteParams(
            store_id=store_id,
            writes=write_keys,
            deletes=tuple(_without_condition(k) for k in delete_keys),
            on_duplicate=req.writes.on_duplicate if req.writes is not None else "",
            on_missing=req.deletes.on_missing if req.deletes is not None else "",
            authorization_model_id=req.authorization_model_id,
        ),
        audit=audit,
    )
    await settle_openfga_write(
        request,
        audit,
        store_id,
        revision=outcome.revision,
        changed=outcome.changed,
        audit_id=outcome.audit_id,
    )
    headers = {
        TOKEN_HEADER: encode_token(store_id, outcome.revision),
        REVISION_HEADER: str(outcome.revision),
    }
    if outcome.model_id:
        headers[MODEL_ID_HEADER] = outcome.model_id
    return Response(s.WriteResponse(), headers=headers)


@_tuples(
    "POST", "/stores/{store_id:str}/read", "Read", operation_class=_BODY_OPERATIONS[s.ReadRequest]
)
async def read(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[s.ReadResponse]:
    """Get tuples matching a filter"""
    check_store_id(store_id, "ReadRequest")
    req: s.ReadRequest = _decode(body, s.ReadRequest)
    consistency = check_consistency(req.consistency, req.consistency_token, "ReadRequest")
    tk = req.tuple_key or s.ReadRequestTupleKey()
    if tk.relation:
        require_pattern(tk.relation, r"^[^:#@\s]{1,50}$", "ReadRequestTupleKey.Relation")
    outcome = await _services(request).read.execute(
        ReadParams(
            store_id=store_id,
            object=tk.object,
            relation=tk.relation,
            user=tk.user,
            page_size=_page_size(req.page_size, "ReadRequest"),
            continuation_token=req.continuation_token,
            consistency=consistency,
        )
    )
    page = outcome.page
    return Response(
        s.ReadResponse([_stored_tuple(t) for t in page.items], page.continuation_token),
        headers={REVISION_HEADER: str(outcome.revision)},
    )


@_tuples("GET", "/stores/{store_id:str}/changes", "ReadChanges")
async def read_changes(
    request: Request[Any, Any, Any],
    store_id: FromPath[str],
    type: FromQuery[str | None] = None,
    page_size: FromQuery[str | None] = None,
    continuation_token: FromQuery[str | None] = None,
    start_time: FromQuery[str | None] = None,
) -> s.ReadChangesResponse:
    """Return a list of all the tuple changes"""
    check_store_id(store_id, "ReadChangesRequest")
    if type:
        require_pattern(type, r"^[^:#\s]{1,254}$", "ReadChangesRequest.Type")
    page = await _services(request).read_changes.execute(
        ReadChangesParams(
            store_id=store_id,
            object_type=type or "",
            page_size=_page_size(page_size, "ReadChangesRequest"),
            continuation_token=continuation_token or "",
            start_time=parse_start_time(start_time or ""),
        )
    )
    return s.ReadChangesResponse([_change(c) for c in page.items], page.continuation_token)


# -- queries -----------------------------------------------------------------------------------


@_queries(
    "POST",
    "/stores/{store_id:str}/check",
    "Check",
    operation_class=_BODY_OPERATIONS[s.CheckRequest],
)
async def check(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[s.CheckResponse]:
    """Check whether a user is authorized to access an object"""
    response, headers = await run_check(services_of(request.app.state), store_id, body)
    return Response(response, headers=headers)


async def run_check(
    services: _Services, store_id: str, body: bytes
) -> tuple[s.CheckResponse, dict[str, str]]:
    """Check from the raw body to the wire response and its headers: shared by the route above
    and the plain-ASGI fast path (:mod:`permsvc.api.openfga.fastpath`), so both answer alike."""
    req, consistency = _decode_query(store_id, body, s.CheckRequest)
    outcome = await services.check.execute(
        CheckParams(
            store_id=store_id,
            tuple_key=_check_key(req.tuple_key, "CheckRequest"),
            model_id=req.authorization_model_id,
            contextual_tuples=contextual_tuples(req.contextual_tuples),
            context=req.context,
            consistency=consistency,
        )
    )
    services.metrics.decision("check", outcome.allowed)
    return s.CheckResponse(outcome.allowed), _model_headers(outcome.model_id, outcome.revision)


_CORRELATION_ID = r"^[\w\d-]{1,36}$"
_MAX_BATCH = 50


@_queries(
    "POST",
    "/stores/{store_id:str}/batch-check",
    "BatchCheck",
    operation_class=_BODY_OPERATIONS[s.BatchCheckRequest],
)
async def batch_check(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[s.BatchCheckResponse]:
    """Send a list of check operations in a single request"""
    req, consistency = _decode_query(store_id, body, s.BatchCheckRequest)
    checks = req.checks or []
    if not checks:
        raise ApiError(
            "validation_error",
            "invalid BatchCheckRequest.Checks: value must contain at least 1 item(s)",
        )
    if len(checks) > _MAX_BATCH:
        raise ApiError(
            "validation_error",
            f"invalid BatchCheckRequest.Checks: value must contain no more than {_MAX_BATCH} item(s)",
        )
    items = []
    for item in checks:
        require_pattern(item.correlation_id, _CORRELATION_ID, "BatchCheckItem.CorrelationId")
        items.append(
            BatchCheckItem(
                correlation_id=item.correlation_id,
                tuple_key=_check_key(item.tuple_key, "BatchCheckItem"),
                contextual_tuples=contextual_tuples(item.contextual_tuples),
                context=item.context if item.context is not None else req.context,
            )
        )
    services = _services(request)
    outcome = await services.batch_check.execute(
        BatchCheckParams(
            store_id=store_id,
            items=tuple(items),
            model_id=req.authorization_model_id,
            consistency=consistency,
        )
    )
    results: dict[str, s.BatchCheckSingleResult] = {}
    for cid, result in outcome.results.items():
        if result.error is None:
            services.metrics.decision("batch_check", result.allowed)
            results[cid] = s.BatchCheckSingleResult(allowed=result.allowed)
        else:
            status, err, _ = translate(result.error)
            results[cid] = s.BatchCheckSingleResult(error=_check_error(status, err))
    return Response(
        s.BatchCheckResponse(results), headers=_model_headers(outcome.model_id, outcome.revision)
    )


def _check_error(status: int, err: ErrorBody) -> s.CheckError:
    if status >= 500:
        return s.CheckError(internal_error=err.code, message=err.message)
    return s.CheckError(input_error=err.code, message=err.message)


@_queries(
    "POST",
    "/stores/{store_id:str}/expand",
    "Expand",
    operation_class=_BODY_OPERATIONS[s.ExpandRequest],
)
async def expand(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[s.ExpandResponse]:
    """Expand all relationships in userset tree format"""
    req, consistency = _decode_query(store_id, body, s.ExpandRequest)
    if req.tuple_key is None:
        raise ApiError("validation_error", "invalid ExpandRequest.TupleKey: value is required")
    require_pattern(req.tuple_key.relation, r"^[^:#@\s]{1,50}$", "ExpandRequestTupleKey.Relation")
    require_pattern(req.tuple_key.object, r"^[^\s]{2,256}$", "ExpandRequestTupleKey.Object")
    outcome = await _services(request).expand.execute(
        ExpandParams(
            store_id=store_id,
            object=req.tuple_key.object,
            relation=req.tuple_key.relation,
            model_id=req.authorization_model_id,
            contextual_tuples=contextual_tuples(req.contextual_tuples),
            consistency=consistency,
        )
    )
    return Response(
        s.ExpandResponse(outcome.tree), headers=_model_headers(outcome.model_id, outcome.revision)
    )


def _list_objects_params(store_id: str, body: bytes, request_name: str) -> ListObjectsParams:
    req, consistency = _decode_query(store_id, body, s.ListObjectsRequest, request_name)
    require_pattern(
        req.type, r"^[^:#@\s]{1,254}$", f"{request_name}.Type", code="type_invalid_pattern"
    )
    require_pattern(req.relation, r"^[^:#@\s]{1,50}$", f"{request_name}.Relation")
    if not 1 <= len(req.user.encode()) <= 512:
        raise ApiError(
            "validation_error",
            f"invalid {request_name}.User: value length must be between 1 and 512 bytes",
        )
    return ListObjectsParams(
        store_id=store_id,
        type=req.type,
        relation=req.relation,
        user=req.user,
        model_id=req.authorization_model_id,
        contextual_tuples=contextual_tuples(req.contextual_tuples),
        context=req.context,
        page_size=_page_size(req.page_size, request_name),
        continuation_token=req.continuation_token,
        consistency=consistency,
    )


class _ListObjectsPage(msgspec.Struct, frozen=True):
    """OpenFGA's ``{"objects":[...]}`` plus our continuation token (ignored by OpenFGA clients):
    where OpenFGA silently truncates at 1000 objects, permsvc returns a page and a token."""

    objects: list[str]
    continuation_token: str = ""


@_queries(
    "POST",
    "/stores/{store_id:str}/list-objects",
    "ListObjects",
    operation_class=_BODY_OPERATIONS[s.ListObjectsRequest],
)
async def list_objects(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[_ListObjectsPage]:
    """List all objects of the given type that the user has a relation with"""
    params = _list_objects_params(store_id, body, "ListObjectsRequest")
    outcome = await _services(request).list_objects.execute(params)
    return Response(
        _ListObjectsPage(outcome.objects, outcome.continuation_token),
        headers=_model_headers(outcome.model_id, outcome.revision),
    )


@_queries(
    "POST",
    "/stores/{store_id:str}/streamed-list-objects",
    "StreamedListObjects",
    operation_class=_BODY_OPERATIONS[s.ListObjectsRequest],
)
async def streamed_list_objects(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Stream:
    """Stream all objects of the given type that the user has a relation with (NDJSON)"""
    params = _list_objects_params(store_id, body, "StreamedListObjectsRequest")
    services = _services(request)
    typesystem = await services.models.resolve(store_id, params.model_id, params.consistency)
    params = msgspec.structs.replace(params, model_id=typesystem.model_id)
    objects = services.list_objects.stream(params)
    # Pull the first object before answering, so that every error raised before evaluation
    # starts (unknown relation, bad user, ...) is an ordinary 4xx response, not a stream line.
    first = await _first(objects)
    return Stream(
        _ndjson(first, objects, request_id_of(request.scope)),
        media_type="application/x-ndjson",
        headers={MODEL_ID_HEADER: typesystem.model_id},
    )


_END = object()


async def _first(objects: AsyncIterator[str]) -> Any:
    try:
        return await anext(objects)
    except StopAsyncIteration:
        return _END


async def _ndjson(
    first: Any, objects: AsyncIterator[str], request_id: str = ""
) -> AsyncIterator[bytes]:
    """The NDJSON body. An error after the first line can no longer change the status, so it
    becomes grpc-gateway's final ``{"error":{"code","message","details"}}`` line; a fault is
    also logged with the request id, like any other 500."""
    if first is _END:
        return
    yield (
        _line_encoder.encode(s.StreamedListObjectsResult(s.StreamedListObjectsResponse(first)))
        + b"\n"
    )
    try:
        async for obj in objects:
            yield (
                _line_encoder.encode(
                    s.StreamedListObjectsResult(s.StreamedListObjectsResponse(obj))
                )
                + b"\n"
            )
    except Exception as err:  # noqa: BLE001 - every failure must end the stream with an error line
        _, body, _ = translate(err)
        if body.code == "internal_error":
            _log.error(
                "StreamedListObjects failed mid-stream",
                exc_info=err,
                extra={"fields": {"request_id": request_id}},
            )
        line = {
            "error": {
                "code": ERROR_CODES.get(body.code, 4000),
                "message": body.message,
                "details": [],
            }
        }
        yield _line_encoder.encode(line) + b"\n"


@_queries(
    "POST",
    "/stores/{store_id:str}/list-users",
    "ListUsers",
    operation_class=_BODY_OPERATIONS[s.ListUsersRequest],
)
async def list_users(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> Response[s.ListUsersResponse]:
    """List the users matching the provided filter who have a certain relation to a particular type"""
    req, consistency = _decode_query(store_id, body, s.ListUsersRequest)
    if req.object is None:
        raise ApiError("validation_error", "invalid ListUsersRequest.Object: value is required")
    require_pattern(
        req.object.type, r"^[^:#@\s]{1,254}$", "Object.Type", code="type_invalid_pattern"
    )
    require_pattern(req.object.id, r"^[^#:\s]+$", "Object.Id")
    require_pattern(req.relation, r"^[^:#@\s]{1,50}$", "ListUsersRequest.Relation")
    filters = req.user_filters or []
    if len(filters) != 1:
        raise ApiError(
            "validation_error",
            "invalid ListUsersRequest.UserFilters: value must contain exactly 1 item(s)",
        )
    for flt in filters:
        require_pattern(
            flt.type, r"^[^:#@\s]{1,254}$", "UserTypeFilter.Type", code="type_invalid_pattern"
        )
        if flt.relation:
            require_pattern(flt.relation, r"^[^:#@\s]{1,50}$", "UserTypeFilter.Relation")
    outcome = await _services(request).list_users.execute(
        ListUsersParams(
            store_id=store_id,
            object=f"{req.object.type}:{req.object.id}",
            relation=req.relation,
            user_filters=tuple(UserFilter(type=f.type, relation=f.relation) for f in filters),
            model_id=req.authorization_model_id,
            contextual_tuples=contextual_tuples(req.contextual_tuples),
            context=req.context,
            consistency=consistency,
        )
    )
    return Response(
        s.ListUsersResponse([_user_out(u) for u in outcome.users]),
        headers=_model_headers(outcome.model_id, outcome.revision),
    )


# -- assertions --------------------------------------------------------------------------------


@_assertions(
    "GET", "/stores/{store_id:str}/assertions/{authorization_model_id:str}", "ReadAssertions"
)
async def read_assertions(
    request: Request[Any, Any, Any], store_id: FromPath[str], authorization_model_id: FromPath[str]
) -> s.ReadAssertionsResponse:
    """Read assertions for an authorization model ID"""
    check_store_id(store_id, "ReadAssertionsRequest")
    check_model_id(authorization_model_id, "ReadAssertionsRequest")
    assertions = await _services(request).read_assertions.execute(store_id, authorization_model_id)
    return s.ReadAssertionsResponse(
        authorization_model_id,
        [
            s.AssertionOut(
                s.AssertionTupleKeyOut(a.tuple_key.object, a.tuple_key.relation, a.tuple_key.user),
                a.expectation,
                [_tuple_key_out(k) for k in a.contextual_tuples],
                a.context or None,
            )
            for a in assertions
        ],
    )


@_assertions(
    "PUT",
    "/stores/{store_id:str}/assertions/{authorization_model_id:str}",
    "WriteAssertions",
    status_code=204,
    operation_class=_BODY_OPERATIONS[s.WriteAssertionsRequest],
)
async def write_assertions(
    request: Request[Any, Any, Any],
    store_id: FromPath[str],
    authorization_model_id: FromPath[str],
    body: RawBody,
) -> None:
    """Upsert assertions for an authorization model ID"""
    check_store_id(store_id, "WriteAssertionsRequest")
    check_model_id(authorization_model_id, "WriteAssertionsRequest")
    req: s.WriteAssertionsRequest = _decode(body, s.WriteAssertionsRequest)
    assertions = [assertion_from_wire(a, i) for i, a in enumerate(req.assertions or [])]
    await _services(request).write_assertions.execute(store_id, authorization_model_id, assertions)
    await record_openfga_write(
        request,
        "assertions_write",
        store_id,
        authorization_model_id=authorization_model_id,
        count=len(assertions),
    )


ROUTES = (
    list_stores,
    create_store,
    get_store,
    delete_store,
    read_authorization_models,
    write_authorization_model,
    read_authorization_model,
    write,
    read,
    read_changes,
    check,
    batch_check,
    expand,
    list_objects,
    streamed_list_objects,
    list_users,
    read_assertions,
    write_assertions,
)


def build_router(settings: Any) -> Router:
    """The OpenFGA route group (admitted by the front door of :mod:`permsvc.api.security`)."""
    return Router(path="/", route_handlers=list(ROUTES))
