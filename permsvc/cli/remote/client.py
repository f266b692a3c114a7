"""The HTTP side of the remote CLI: where the server is, how to authenticate, and what its
answers mean as exit statuses.

Only the standard library, :mod:`httpx` and the server's documented HTTP routes are used here:
nothing of the server's engine, store or API packages is imported, so the remote commands behave
exactly like any other client of the service.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any, Self

import httpx

from permsvc import __version__

__all__ = (
    "EXIT_AUTH",
    "EXIT_DENIED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "Remote",
    "RemoteError",
    "UsageError",
)

EXIT_OK = 0
"""Success; for ``check``: allowed."""
EXIT_DENIED = 1
"""``check``: not allowed (the request itself succeeded)."""
EXIT_USAGE = 2
"""Bad command line or unreadable local input (nothing was sent, or nothing more)."""
EXIT_AUTH = 3
"""The server refused the credential (401) or its role / store limit (403)."""
EXIT_NOT_FOUND = 4
"""The store, model, key or other named thing does not exist (404)."""
EXIT_UNAVAILABLE = 5
"""The server could not be reached, timed out, or answered 5xx (503 while its database is down)."""
EXIT_REJECTED = 6
"""The server refused the request's content (400, 409, 413, 422: invalid tuple, orphaning model...)."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C); ``tuple import`` prints where to resume."""

DEFAULT_TIMEOUT_S = 30.0


class RemoteError(Exception):
    """A failure of a remote command, with the exit status it maps to."""

    def __init__(self, message: str, exit_code: int, *, status: int = 0, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status
        self.body = body


class UsageError(RemoteError):
    """A usage error found before anything was sent (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def _exit_for(status: int, code: str) -> int:
    if status in (401, 403):
        return EXIT_AUTH
    if status == 404 or code.endswith("not_found"):
        return EXIT_NOT_FOUND
    if status >= 500 or status == 429:
        return EXIT_UNAVAILABLE
    return EXIT_REJECTED


def _error_from(response: httpx.Response) -> RemoteError:
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    code = ""
    message = ""
    if isinstance(body, dict):
        code = str(body.get("code") or "")
        message = str(body.get("message") or "")
    if not message:
        message = response.text.strip()[:300] or response.reason_phrase
    prefix = f"{status} {code}" if code else str(status)
    text = f"{prefix}: {message}"
    if status == 401:
        text += " (set --api-key or PERMSVC_API_KEY to a key this server accepts)"
    retry = response.headers.get("retry-after")
    if status == 503 and retry:
        text += f" (retry after {retry} s)"
    return RemoteError(text, _exit_for(status, code), status=status, body=body)


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http:// or https:// URL, got {url!r}")
    return url


class Remote:
    """One permsvc server: a reused connection, the credential, and JSON requests that raise
    :class:`RemoteError` on failure."""

    def __init__(
        self,
        url: str,
        api_key: str = "",
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = _base_url(url)
        headers = {"User-Agent": f"permsvc-cli/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        content_type: str = "application/json",
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {}
        data: bytes | None = content
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = self._http.request(method, path, content=data, headers=headers, params=clean)
        except httpx.TransportError as err:
            raise self._unreachable(err) from err
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request (``body`` as JSON, or ``content`` of ``content_type``, ``params``);
        the decoded JSON answer (``{}`` for an empty one)."""
        response = self._send(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as err:
            raise RemoteError(
                f"{method} {path}: the server's answer is not JSON: {response.text[:200]!r}",
                EXIT_UNAVAILABLE,
            ) from err

    def request_retrying(
        self,
        method: str,
        path: str,
        *,
        attempts: int = 5,
        sleep: Any = time.sleep,
        **kwargs: Any,
    ) -> Any:
        """:meth:`request` for idempotent requests: retried on unavailability (connection errors,
        5xx, 429), waiting 0.5, 1, 2, 4 s (or the server's ``Retry-After``) between attempts."""
        delay = 0.5
        for attempt in range(1, attempts + 1):
            try:
                return self.request(method, path, **kwargs)
            except RemoteError as err:
                if err.exit_code != EXIT_UNAVAILABLE or attempt == attempts:
                    raise
                sleep(delay)
                delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def stream_lines(
        self, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[bytes]:
        """The lines of a streamed (JSON-lines) answer, as they arrive."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            with self._http.stream("GET", path, params=clean) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from(response)
                for line in response.iter_lines():
                    if line:
                        yield line.encode()
        except httpx.TransportError as err:
            raise self._unreachable(err) from err

    def _unreachable(self, err: httpx.TransportError) -> RemoteError:
        if isinstance(err, httpx.TimeoutException):
            text = f"permsvc at {self.url} did not answer in time ({type(err).__name__})"
        else:
            text = f"cannot reach permsvc at {self.url}: {err or type(err).__name__}"
        return RemoteError(text, EXIT_UNAVAILABLE)


def setting(value: str | None, env: str) -> str:
    """A command-line value, else the environment variable ``env``, else ``""``."""
    if value:
        return value
    return os.environ.get(env, "").strip()
