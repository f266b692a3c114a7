"""Claim specs: which relations a token's permission summary holds, under which claim name.

A spec is a YAML or JSON document (``schema/claims.yaml`` is the example)::

    version: 1                                  # spec format; only 1 exists
    claim: https://permsvc.example.com/perms    # the namespaced claim name
    subject_type: user                          # event.user.user_id -> user:<user_id>
    budget_bytes: 2048                          # largest encoded summary (the claim's JSON value)
    relations: [organization#admin, project#editor, project#viewer]
    audiences:                                  # per-API variants, keyed by API identifier
      https://billing.example.com:
        relations: [organization#admin]
        budget_bytes: 512                       # optional; defaults to the top-level one
        claim: https://permsvc.example.com/billing   # optional

A token for an audience listed under ``audiences`` carries that variant's relations; any other
token (or a request without an audience) carries the top-level ``relations``.

**Claim names.** Auth0 silently drops a custom claim whose name is on its restricted list
(``permissions``, ``roles``, ``groups``, ...) or whose namespace is an Auth0 domain
(``auth0.com``, ``webtask.io``, ``webtask.run``) or ``urn:auth0``: the login succeeds and the
claim is simply missing. Such names are rejected here, at load time, instead. A claim name must be
an ``http(s)`` URL on a domain you own; the URL is never fetched.

**Budget.** Between :data:`MIN_BUDGET_BYTES` (room for the envelope and the overflow marker) and
:data:`MAX_BUDGET_BYTES`: tokens travel in ``Authorization`` headers, and Node's whole header block
is 16 KiB by default, proxies often 8 KiB.

Relations are checked against the store's model when a summary is computed
(:class:`~permsvc.claims.errors.ClaimSpecModelError`), because the model can change after the spec
was loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from permsvc.claims.errors import ClaimSpecError
from permsvc.claims.format import encode_document

__all__ = (
    "DEFAULT_BUDGET_BYTES",
    "MAX_BUDGET_BYTES",
    "MIN_BUDGET_BYTES",
    "RESTRICTED_CLAIM_NAMES",
    "RESTRICTED_DOMAINS",
    "ClaimSpec",
    "ClaimVariant",
    "claim_name_problem",
    "load_claim_spec",
    "parse_claim_spec",
    "parse_claim_text",
    "split_relation_key",
)

DEFAULT_BUDGET_BYTES = 2048
"""Default size limit of the encoded summary: a few KB, far below header limits."""
MIN_BUDGET_BYTES = 128
MAX_BUDGET_BYTES = 8192

RESTRICTED_CLAIM_NAMES = frozenset(
    [
        "acr",
        "act",
        "active",
        "amr",
        "at_hash",
        "ath",
        "attest",
        "aud",
        "auth_time",
        "authorization_details",
        "azp",
        "c_hash",
        "client_id",
        "cnf",
        "cty",
        "dest",
        "entitlements",
        "events",
        "exp",
        "groups",
        "gty",
        "htm",
        "htu",
        "iat",
        "internalService",
        "iss",
        "jcard",
        "jku",
        "jti",
        "jwe",
        "jwk",
        "kid",
        "may_act",
        "mky",
        "nbf",
        "nonce",
        "object_id",
        "org_id",
        "org_name",
        "orig",
        "origid",
        "permissions",
        "roles",
        "rph",
        "s_hash",
        "sid",
        "sip_callid",
        "sip_cseq_num",
        "sip_date",
        "sip_from_tag",
        "sip_via_branch",
        "sub",
        "sub_jwk",
        "toe",
        "txn",
        "typ",
        "uuid",
        "vot",
        "vtm",
        "x5t#S256",
    ]
)
"""Auth0's restricted claim names: setting one is silently ignored."""

RESTRICTED_DOMAINS = ("auth0.com", "webtask.io", "webtask.run")
"""Domains (and their subdomains) Auth0 refuses as claim namespaces."""

_LARGEST_REVISION = 2**63 - 1
"""Used to size the worst-case envelope: a revision never needs more digits than this."""

_NAME = re.compile(r"^[^:#@*\s]{1,254}$")
_MAX_CLAIM_NAME = 255
_TOP_FIELDS = frozenset(
    {"version", "claim", "subject_type", "budget_bytes", "relations", "audiences"}
)
_VARIANT_FIELDS = frozenset({"claim", "budget_bytes", "relations"})


class ClaimVariant(msgspec.Struct, frozen=True, kw_only=True):
    """What one token carries: the claim name, the relations summarised, and the byte budget."""

    claim: str
    relations: tuple[str, ...]
    """``type#relation`` keys, in spec order (the order breaks ties when entries are dropped)."""
    budget_bytes: int
    subject_type: str = "user"


class ClaimSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A validated claim spec. Build with :func:`parse_claim_spec` or :func:`load_claim_spec`."""

    claim: str
    relations: tuple[str, ...]
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    subject_type: str = "user"
    audiences: dict[str, ClaimVariant] = msgspec.field(default_factory=dict)
    version: int = 1

    def variant_for(self, audience: str | None) -> ClaimVariant:
        """The variant for tokens whose audience is ``audience`` (the default one when unlisted)."""
        if audience and audience in self.audiences:
            return self.audiences[audience]
        return ClaimVariant(
            claim=self.claim,
            relations=self.relations,
            budget_bytes=self.budget_bytes,
            subject_type=self.subject_type,
        )

    def all_relations(self) -> tuple[str, ...]:
        """Every relation key any variant uses, first occurrence order."""
        keys = dict.fromkeys(self.relations)
        for variant in self.audiences.values():
            keys.update(dict.fromkeys(variant.relations))
        return tuple(keys)

    def to_document(self) -> dict[str, Any]:
        """The spec as a JSON-compatible document that :func:`parse_claim_spec` reads back."""
        doc: dict[str, Any] = {
            "version": self.version,
            "claim": self.claim,
            "subject_type": self.subject_type,
            "budget_bytes": self.budget_bytes,
            "relations": list(self.relations),
        }
        if self.audiences:
            doc["audiences"] = {
                aud: {
                    "claim": v.claim,
                    "budget_bytes": v.budget_bytes,
                    "relations": list(v.relations),
                }
                for aud, v in self.audiences.items()
            }
        return doc


def split_relation_key(key: str) -> tuple[str, str]:
    """``"project#viewer"`` -> ``("project", "viewer")``; the key must be valid (see the spec rules)."""
    object_type, _, relation = key.partition("#")
    return object_type, relation


def claim_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be used as the claim name, or ``None`` when it can."""
    if name in RESTRICTED_CLAIM_NAMES:
        return (
            f"{name!r} is one of Auth0's restricted claim names: Auth0 silently drops it; use a "
            f"namespaced name such as 'https://permsvc.example.com/{name}'"
        )
    if name.lower().startswith("urn:auth0"):
        return (
            "the 'urn:auth0' namespace is reserved by Auth0; use an https URL on a domain you own"
        )
    if len(name) > _MAX_CLAIM_NAME:
        return (
            f"the claim name is {len(name)} characters long; keep it to {_MAX_CLAIM_NAME} or fewer"
        )
    parts = urlsplit(name)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            f"{name!r} is not namespaced: use an http(s) URL on a domain you own, e.g. "
            "'https://permsvc.example.com/perms' (Auth0 never fetches it)"
        )
    if parts.query or parts.fragment or any(c.isspace() for c in name):
        return f"{name!r} must not contain whitespace, a query or a fragment"
    host = parts.hostname.lower().rstrip(".")
    for domain in RESTRICTED_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return f"{host!r} is an Auth0 domain ({domain}); Auth0 refuses claims namespaced on it"
    return None


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _budget(value: object, path: str, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be an integer number of bytes, got {value!r}")
        return None
    if not MIN_BUDGET_BYTES <= value <= MAX_BUDGET_BYTES:
        problems.add(
            path, f"must be between {MIN_BUDGET_BYTES} and {MAX_BUDGET_BYTES} bytes, got {value}"
        )
        return None
    return value


def _claim(value: object, path: str, problems: _Problems) -> str | None:
    if not isinstance(value, str) or not value:
        problems.add(path, "must be a non-empty string (the namespaced claim name)")
        return None
    problem = claim_name_problem(value)
    if problem:
        problems.add(path, problem)
        return None
    return value


def _relations(value: object, path: str, problems: _Problems) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        problems.add(
            path, "must be a non-empty list of 'type#relation' strings, e.g. [project#viewer]"
        )
        return None
    keys: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        item_path = f"{path}[{i}]"
        if not isinstance(item, str):
            problems.add(item_path, f"must be a 'type#relation' string, got {item!r}")
            continue
        object_type, sep, relation = item.partition("#")
        if not sep or not _NAME.match(object_type) or not _NAME.match(relation):
            problems.add(item_path, f"{item!r} is not 'type#relation' (e.g. 'project#viewer')")
            continue
        if item in seen:
            problems.add(item_path, f"{item!r} is listed twice")
            continue
        seen.add(item)
        keys.append(item)
    return tuple(keys)


def _check_envelope(
    relations: tuple[str, ...], budget: int, path: str, problems: _Problems
) -> None:
    """The budget must hold the summary with every relation left out (the overflow marker and
    the list of what is missing), or an overflowing summary could not be encoded at all."""
    size = len(encode_document(_LARGEST_REVISION, {}, relations))
    if size > budget:
        problems.add(
            path,
            f"{budget} bytes cannot hold even the overflow marker for {len(relations)} relations "
            f"({size} bytes); raise the budget or summarise fewer relations",
        )


def _unknown(
    doc: Mapping[str, Any], allowed: frozenset[str], path: str, problems: _Problems
) -> None:
    for name in doc:
        if name not in allowed:
            where = f"{path}.{name}" if path else str(name)
            problems.add(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")


def parse_claim_spec(doc: object, *, source: str = "") -> ClaimSpec:
    """Validate a decoded spec document.

    Raises:
        ClaimSpecError: listing every problem with the path of its field.
    """
    problems = _Problems()
    if not isinstance(doc, Mapping):
        raise ClaimSpecError(
            [("", "a claim spec must be a mapping (YAML/JSON object)")], source=source
        )
    _unknown(doc, _TOP_FIELDS, "", problems)
    version = doc.get("version", 1)
    if version != 1:
        problems.add(
            "version", f"unsupported spec version {version!r}: this permsvc reads version 1"
        )
    subject_type = doc.get("subject_type", "user")
    if not isinstance(subject_type, str) or not _NAME.match(subject_type):
        problems.add("subject_type", f"must be a type name such as 'user', got {subject_type!r}")
    claim = _claim(doc.get("claim"), "claim", problems)
    budget = _budget(doc.get("budget_bytes", DEFAULT_BUDGET_BYTES), "budget_bytes", problems)
    relations = _relations(doc.get("relations"), "relations", problems)
    if budget and relations:
        _check_envelope(relations, budget, "budget_bytes", problems)
    variants: dict[str, ClaimVariant] = {}
    audiences = doc.get("audiences", {})
    if audiences is None:
        audiences = {}
    if not isinstance(audiences, Mapping):
        problems.add("audiences", "must be a mapping from API identifier (audience) to a variant")
        audiences = {}
    for audience, raw in audiences.items():
        path = f"audiences.{audience}"
        if not isinstance(audience, str) or not audience:
            problems.add(path, "an audience must be a non-empty string (the API identifier)")
            continue
        if not isinstance(raw, Mapping):
            problems.add(
                path, "must be a mapping with 'relations' (and optionally 'claim', 'budget_bytes')"
            )
            continue
        _unknown(raw, _VARIANT_FIELDS, path, problems)
        v_claim = _claim(raw["claim"], f"{path}.claim", problems) if "claim" in raw else claim
        v_budget = (
            _budget(raw["budget_bytes"], f"{path}.budget_bytes", problems)
            if "budget_bytes" in raw
            else budget
        )
        v_relations = _relations(raw.get("relations"), f"{path}.relations", problems)
        if v_budget and v_relations:
            _check_envelope(v_relations, v_budget, f"{path}.budget_bytes", problems)
        if v_claim and v_budget and v_relations and isinstance(subject_type, str):
            variants[audience] = ClaimVariant(
                claim=v_claim,
                relations=v_relations,
                budget_bytes=v_budget,
                subject_type=subject_type,
            )
    if problems.items:
        raise ClaimSpecError(problems.items, source=source)
    assert claim is not None and budget is not None and relations is not None
    return ClaimSpec(
        claim=claim,
        relations=relations,
        budget_bytes=budget,
        subject_type=subject_type,
        audiences=variants,
    )


def load_claim_spec(path: str | Path) -> ClaimSpec:
    """Read and validate a spec file: ``.json`` is JSON, anything else YAML (a superset of JSON).

    Raises:
        ClaimSpecError: the file cannot be read or parsed, or the spec is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ClaimSpecError(
            [("", f"cannot read the file: {err.strerror or err}")], source=str(path)
        ) from err
    return parse_claim_text(text, source=str(path), json_only=path.suffix.lower() == ".json")


def parse_claim_text(text: str, *, source: str = "", json_only: bool = False) -> ClaimSpec:
    """Parse a spec from YAML or JSON text (see :func:`load_claim_spec`)."""
    try:
        if json_only:
            doc = json.loads(text)
        else:
            from permsvc.core.yaml_text import load_yaml

            doc = load_yaml(text)
    except ValueError as err:
        raise ClaimSpecError([("", f"not valid JSON: {err}")], source=source) from err
    except Exception as err:  # yaml.YAMLError; yaml is imported lazily
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ClaimSpecError(
            [("", f"not valid YAML{where}: {getattr(err, 'problem', None) or err}")], source=source
        ) from err
    if (bad := _lone_surrogate(doc, "")) is not None:
        # JSON's and YAML's escapes can spell half of a UTF-16 pair, which is no Unicode text:
        # no datastore, log line or response can carry it
        raise ClaimSpecError(
            [(bad, "not valid Unicode: a lone surrogate escape (\\ud800-\\udfff)")], source=source
        )
    return parse_claim_spec(doc, source=source)


def _lone_surrogate(value: object, path: str) -> str | None:
    """The path of the first string (key or value) of a decoded document that is not valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(document)"
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if (found := _lone_surrogate(key, where) or _lone_surrogate(item, where)) is not None:
                return found.encode("utf-8", "backslashreplace").decode("utf-8")
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _lone_surrogate(item, f"{path}[{index}]")) is not None:
                return found
    return None
