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
import functools
import sys
from typing import Any

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = (
    "CoalescingHttpToolsProtocol",
    "CoalescingTransport",
    "error_response",
    "malformed_request_response",
)


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


@functools.cache
def _configured_read_timeout_s() -> float:
    """The worker's ``PERMSVC_REQUEST_READ_TIMEOUT_S`` (``permsvc serve`` exports its settings to
    the workers' environment), read once per process."""
    from permsvc.settings import Settings

    return Settings.from_env().request_read_timeout_s


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each response with one system call, and refusing to
    wait forever for a request.

    uvicorn bounds only the idle time between requests (keep-alive). A client that opens a
    connection and sends nothing, trickles its headers, or announces a body and stops sending it
    held the connection (and, once the headers were in, an application task) for as long as it
    liked. Here a new connection's first request and every request's headers must arrive within
    the read timeout, and a body may not stall for longer than it between two reads; then the
    client gets ``408 request_timeout`` (or, when the application has already answered, just the
    close).
    """

    read_timeout_s: float | None = None
    """Overrides the configured timeout (tests)."""

    max_header_bytes = 64 * 1024
    """The request line and headers of one request, at most (nginx allows 32 KiB, Node 16 KiB):
    a larger head gets ``431`` and the connection closes. The HTTP parser buffers a header until
    it ends, so without this bound one endless header line grew the worker's memory until the
    read timeout."""

    _read_timer: asyncio.TimerHandle | None = None
    _read_deadline: float | None = None  # when reading stalls (None: not reading a request)
    _read_timeout = 0.0
    _in_head = True
    _head_bytes = 0
    _boundaries = 0  # heads and requests completed on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))
        self._read_timeout = self.read_timeout_s or _configured_read_timeout_s()
        self._reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        boundaries = self._boundaries
        super().data_received(data)
        if self._boundaries != boundaries:
            # A head or a request ended in this chunk: what follows it is at most one chunk.
            self._head_bytes = 0
        elif self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)  # the whole chunk is head
            if self._head_bytes > self.max_header_bytes:
                self.transport.write(
                    error_response(
                        b"431 Request Header Fields Too Large",
                        "validation_error",
                        f"the request line and headers exceed {self.max_header_bytes} bytes",
                        self.server_state.default_headers,
                    )
                )
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading()  # the headers must all arrive within the timeout

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._boundaries += 1
        super().on_headers_complete()
        self._reading()  # now the body: may not stall longer than the timeout

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._reading()

    def on_message_complete(self) -> None:
        self._read_deadline = None  # read: between requests, keep-alive's timeout applies
        self._in_head = True  # the next bytes begin the next request's head
        self._boundaries += 1
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()

    def _reading(self) -> None:
        """Reading goes on: the deadline moves; the one timer of the connection is armed only
        when none is (a timer per request and event cost 2.4 us a request, measured)."""
        self._read_deadline = self.loop.time() + self._read_timeout
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self._read_timeout, self._check_read)

    def _check_read(self) -> None:
        self._read_timer = None
        deadline = self._read_deadline
        if deadline is None or self.transport.is_closing():
            return  # not reading: the next request arms the timer again
        now = self.loop.time()
        if now < deadline:
            self._read_timer = self.loop.call_later(deadline - now, self._check_read)
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            self.transport.write(
                error_response(
                    b"408 Request Timeout",
                    "request_timeout",
                    "the request did not arrive in time: the connection is closed",
                    self.server_state.default_headers,
                )
            )
        self.transport.close()

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
    return error_response(b"400 Bad Request", "validation_error", message, default_headers)


def error_response(
    status: bytes, code: str, message: str, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    """A complete JSON error response (the API's error body) that closes the connection."""
    body = msgspec.json.encode({"code": code, "message": message})
    head = [b"HTTP/1.1 " + status + b"\r\n"]
    head.extend(name + b": " + value + b"\r\n" for name, value in default_headers)
    head.append(
        b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % len(body)
    )
    return b"".join(head) + body
