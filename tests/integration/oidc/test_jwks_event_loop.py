"""The JWKS fetch never blocks the event loop (PyJWKClient's urllib fetch would).

A loopback HTTP server answers the JWKS after 0.5 s; while the authenticator waits for it, a
ticker on the same loop must keep running.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from permsvc.auth.config import OidcSettings
from permsvc.auth.jwt import JwtAuthenticator

DELAY_S = 0.5


@pytest.fixture
def slow_jwks() -> Iterator[tuple[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {
        "kid": "slow",
        "alg": "RS256",
        "use": "sig",
    }
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(DELAY_S)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", key
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_jwks_fetch_does_not_block_the_loop(slow_jwks: tuple[str, Any]) -> None:
    issuer, key = slow_jwks
    settings = OidcSettings(issuer=issuer, audiences=("https://my-api",), jwks_url=f"{issuer}jwks")
    now = int(time.time())
    token = jwt.encode(
        {"iss": issuer, "aud": "https://my-api", "sub": "auth0|42", "iat": now, "exp": now + 60},
        key,
        algorithm="RS256",
        headers={"kid": "slow"},
    )
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    authenticator = JwtAuthenticator.from_settings(settings)
    task = asyncio.create_task(ticker())
    try:
        claims = await authenticator.authenticate(token)
    finally:
        done.set()
        await task
        await authenticator.aclose()
    assert claims.subject == "auth0|42"
    assert ticks >= 20, f"the event loop ran only {ticks} ticks during a {DELAY_S} s fetch"
