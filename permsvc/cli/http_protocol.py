"""The HTTP/1.1 protocol ``permsvc serve`` gives uvicorn: httptools, one ``write`` per response.

uvicorn writes a response's status line and headers when the application sends
``http.response.start`` and the body when it sends ``http.response.body``, and uvloop hands each
write to the kernel at once. Every small response (a check answer is about 200 bytes) therefore
cost two ``write`` system calls and two TCP segments, and on loopback those two calls took about
as much CPU as evaluating the check (py-spy, ``permsvc serve --workers 2`` under wrk).

:class:`CoalescingHttpToolsProtocol` is uvicorn's httptools protocol with its transport wrapped in
a :class:`CoalescingTransport`, which holds the writes of one event-loop step and sends them as one:
when the response is complete (the protocol flushes at once), or at the latest when the step ends
(a ``call_soon`` backstop, for streamed bodies and ``100 Continue``). Bytes go out in the order
they were written and never later than the end of the step that wrote them.

A request the HTTP parser cannot read (a control character in a header value, a broken request
line) never reaches the application; uvicorn answers it with a plain-text 400. The protocol answers
it with the API's JSON error body instead (``validation_error`` and the parser's reason), so every
error a client can get from ``permsvc serve`` has the same shape.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ("CoalescingHttpToolsProtocol", "CoalescingTransport", "malformed_request_response")


class CoalescingTransport(asyncio.Transport):
    """Forwards to ``transport``; writes made in one event-loop step reach it as one write."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what this step has written (nothing if it has been sent already)."""
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():  # closed under us: nowhere to deliver
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending or ()))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each response with one system call."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        """The parser's refusal as the API's error body (uvicorn sends plain text), then close."""
        self.transport.write(
            malformed_request_response(msg, sys.exc_info()[1], self.server_state.default_headers)
        )
        self.transport.close()


def malformed_request_response(
    msg: str, cause: BaseException | None, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    """A complete ``400`` response (``Connection: close``) for a request the parser refused."""
    reason = (
        str(cause).strip()
        if isinstance(cause, httptools.HttpParserError) and str(cause).strip()
        else ""
    )
    message = (
        f"the request is not valid HTTP/1.1: {reason}"
        if reason
        else f"the request is not valid HTTP/1.1 ({msg})"
    )
    body = msgspec.json.encode({"code": "validation_error", "message": message})
    head = [b"HTTP/1.1 400 Bad Request\r\n"]
    head.extend(name + b": " + value + b"\r\n" for name, value in default_headers)
    head.append(
        b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % len(body)
    )
    return b"".join(head) + body
