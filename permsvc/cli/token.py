"""``permsvc token explain``: say what a bearer token is and why it would be accepted or not.

Offline by default: the token is decoded and checked against the issuer, audience and algorithms
given as options (or the ``PERMSVC_OIDC_*`` environment). Only ``--verify`` touches the network,
to fetch the issuer's JWKS and check the signature. Exit status 0 when the token would be
accepted (with ``--verify``: and its signature was verified), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import msgspec

from permsvc.auth.checks import TokenPolicy
from permsvc.auth.config import DEFAULT_ALGORITHMS, OidcSettings
from permsvc.auth.diagnose import Diagnosis, explain, explain_and_verify
from permsvc.auth.errors import OidcConfigError
from permsvc.auth.findings import Severity
from permsvc.auth.jwks import JwksKeyProvider
from permsvc.cli.subcommand import add_command

__all__ = ("register",)

_MARK = {Severity.ERROR: "ERROR", Severity.WARNING: "WARN ", Severity.INFO: "info "}


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="inspect bearer access tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="SUBCOMMAND", required=True)
    p = add_command(
        token_sub,
        "explain",
        help="decode a token and say what is wrong with it and how to fix it",
        doc=__doc__,
    )
    p.add_argument("token", metavar="TOKEN", help="the access token, or '-' to read it from stdin")
    p.add_argument("--issuer", help="expected issuer (default: PERMSVC_OIDC_ISSUER)")
    p.add_argument(
        "--audience",
        action="append",
        help="accepted audience; repeat or comma-separate (default: PERMSVC_OIDC_AUDIENCE)",
    )
    p.add_argument("--algorithms", help="allowed algorithms, comma-separated (default: RS256)")
    p.add_argument("--strict", action="store_true", default=None, help="RFC 9068 strict mode")
    p.add_argument(
        "--jwks-url", help="JWKS URL for --verify (default: from the issuer's discovery document)"
    )
    p.add_argument(
        "--verify", action="store_true", help="fetch the issuer's keys and check the signature"
    )
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.set_defaults(func=_explain)


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(
        part.strip() for value in values or () for part in value.split(",") if part.strip()
    )


def _policy(args: argparse.Namespace, env: OidcSettings | None) -> TokenPolicy:
    base = TokenPolicy.from_settings(env) if env else TokenPolicy()
    audiences = _split(args.audience) or base.audiences
    algorithms = (
        _split([args.algorithms]) if args.algorithms else base.algorithms or DEFAULT_ALGORITHMS
    )
    return msgspec.structs.replace(
        base,
        issuer=args.issuer or base.issuer,
        audiences=audiences,
        algorithms=algorithms,
        strict=base.strict if args.strict is None else args.strict,
    )


def _read_token(arg: str) -> str:
    return (sys.stdin.read() if arg == "-" else arg).strip()


async def _verify(token: str, policy: TokenPolicy, jwks_url: str | None) -> Diagnosis:
    if policy.issuer is None:
        raise OidcConfigError("--verify needs the issuer: pass --issuer or set PERMSVC_OIDC_ISSUER")
    keys = JwksKeyProvider(issuer=policy.issuer, jwks_url=jwks_url)
    try:
        return await explain_and_verify(token, policy, keys)
    finally:
        await keys.aclose()


def _explain(args: argparse.Namespace) -> int:
    env = OidcSettings.from_env()
    policy = _policy(args, env)
    token = _read_token(args.token)
    if args.verify:
        jwks_url = args.jwks_url or (env.jwks_url if env else None)
        diagnosis = asyncio.run(_verify(token, policy, jwks_url))
    else:
        diagnosis = explain(token, policy)
    if args.json:
        sys.stdout.write(msgspec.json.encode(diagnosis).decode() + "\n")
    else:
        sys.stdout.write(render(diagnosis, policy, verify=args.verify))
    unverified = args.verify and diagnosis.signature != "valid"
    return 0 if diagnosis.accepted and not unverified else 1


def render(diagnosis: Diagnosis, policy: TokenPolicy, *, verify: bool = False) -> str:
    """The human-readable report."""
    lines: list[str] = []
    form = {
        "jws": "signed JWT (JWS, 3 segments)",
        "jwe": "encrypted JWT (JWE, 5 segments)",
        "invalid": "not a JWT",
    }
    lines.append(f"token:     {form[diagnosis.form]}")
    lines.append(
        f"checked:   issuer {policy.issuer or '(not given)'}; audience "
        f"{', '.join(policy.audiences) or '(not given)'}; algorithms {', '.join(policy.algorithms)}"
        + ("; strict RFC 9068" if policy.strict else "")
    )
    if diagnosis.header is not None:
        lines.append("header:    " + json.dumps(diagnosis.header, sort_keys=True))
    if diagnosis.claims is not None:
        lines.append("claims:    " + json.dumps(diagnosis.claims, sort_keys=True))
    lines.append(f"signature: {diagnosis.signature.replace('_', ' ')}")
    lines.append("")
    for finding in diagnosis.findings:
        lines.append(f"  {_MARK[finding.severity]} {finding.what}")
        if finding.fix:
            lines.append(f"        fix: {finding.fix}")
    lines.append("")
    if diagnosis.accepted and diagnosis.signature == "valid":
        verdict = "ACCEPTED"
    elif diagnosis.accepted and verify:
        verdict = "NOT VERIFIED: the issuer's keys could not be loaded (a server would answer 503)"
    elif diagnosis.accepted:
        verdict = "ACCEPTED if the signature is valid (use --verify)"
    else:
        verdict = "REJECTED (401 invalid_token): " + diagnosis.errors[0].code
    lines.append(f"verdict:   {verdict}")
    return "\n".join(lines) + "\n"
