"""The local OpenID Provider used by the token tests: install, start, stop, get tokens."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

HERE = Path(__file__).resolve().parent
CACHE = HERE.parents[2] / ".cache" / "oidc-provider"  # outside tests/: npm code, not ours
PACKAGE = "oidc-provider"
VERSION = "9.13.3"
API = "https://my-api"
JWE_RESOURCE = "urn:example:jwe-only"
TEST_GRANT = "urn:example:params:oauth:grant-type:test-subject"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the OpenID-provider tests must run in CI)")
    pytest.skip(reason)


def _installed_version() -> str | None:
    manifest = CACHE / "node_modules" / PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install_runtime() -> Path:
    """Install oidc-provider (once) and return the directory to run provider.mjs in.

    provider.mjs is copied next to node_modules because ES modules resolve packages from the
    importing file's directory (NODE_PATH does not apply to them).
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed to run oidc-provider (apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    if _installed_version() != VERSION:
        (CACHE / "package.json").write_text(
            json.dumps(
                {"private": True, "type": "module", "dependencies": {PACKAGE: VERSION}}, indent=2
            )
        )
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CACHE,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or _installed_version() != VERSION:
            pytest.fail(
                f"npm install {PACKAGE}@{VERSION} failed:\n{result.stdout}\n{result.stderr}"
            )
    shutil.copyfile(HERE / "provider.mjs", CACHE / "provider.mjs")
    return CACHE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signing_jwks(kid: str) -> dict[str, Any]:
    """A private JWK Set (one RSA key) for OIDC_JWKS_FILE."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    jwk.pop("key_ops", None)  # PyJWT writes ["sign"]; the published public key must not say that
    return {"keys": [jwk]}


class OidcProvider:
    """One oidc-provider process; :meth:`restart` swaps its keys on the same port."""

    def __init__(
        self,
        runtime: Path,
        tmp: Path,
        *,
        port: int | None = None,
        kid: str = "key-1",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """``extra_env`` adds provider.mjs variables (``CLAIM_FEED_URL``, ``OIDC_API_SCOPES``)."""
        self.extra_env = dict(extra_env or {})
        self.runtime = runtime
        self.tmp = tmp
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/"
        self.kid = kid
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"provider-{self.port}.log"

    def start(self, kid: str | None = None) -> None:
        self.kid = kid or self.kid
        jwks_file = self.tmp / f"jwks-{self.kid}.json"
        jwks_file.write_text(json.dumps(signing_jwks(self.kid)))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "OIDC_PORT": str(self.port),
            "OIDC_ISSUER": self.issuer,
            "OIDC_JWKS_FILE": str(jwks_file),
            "OIDC_API_AUDIENCE": API,
            **self.extra_env,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", "provider.mjs"],
                cwd=self.runtime,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {self.log.read_text()[-2000:]}")
            try:
                if (
                    httpx.get(
                        f"{self.issuer}.well-known/openid-configuration", timeout=1
                    ).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oidc-provider did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self, kid: str) -> None:
        self.stop()
        self.start(kid)

    def _token(self, auth: tuple[str, str], **form: str) -> dict[str, Any]:
        response = httpx.post(f"{self.issuer}token", auth=auth, data=form, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def client_credentials(self, scope: str = "read:docs write:docs", resource: str = API) -> str:
        body = self._token(
            ("m2m-client", "m2m-secret"),
            grant_type="client_credentials",
            resource=resource,
            scope=scope,
        )
        return str(body["access_token"])

    def user_token(self, subject: str, scope: str = "read:docs", resource: str = API) -> str:
        form = {"grant_type": TEST_GRANT, "subject": subject, "resource": resource}
        if scope:
            form["scope"] = scope
        return str(self._token(("web-client", "web-secret"), **form)["access_token"])

    def authorization_code(self, username: str) -> dict[str, Any]:
        """The dev-interaction code flow driven without a browser (as authcode.sh does)."""
        redirect = f"http://127.0.0.1:{self.port}/cb"

        def follow(response: httpx.Response) -> str:
            return str(response.url.join(response.headers["location"]))

        with httpx.Client(follow_redirects=False, timeout=10) as client:
            step = follow(
                client.get(
                    f"{self.issuer}auth",
                    params={
                        "client_id": "web-client",
                        "response_type": "code",
                        "scope": "openid email read:docs",
                        "redirect_uri": redirect,
                        "resource": API,
                        "state": "xyz",
                    },
                )
            )
            step = follow(
                client.post(step, data={"prompt": "login", "login": username, "password": "x"})
            )
            step = follow(client.get(step))
            step = follow(client.post(step, data={"prompt": "consent"}))
            step = follow(client.get(step))
            code = parse_qs(urlsplit(step).query)["code"][0]
        return self._token(
            ("web-client", "web-secret"),
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect,
            resource=API,
        )
