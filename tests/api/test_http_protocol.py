"""``permsvc serve``'s HTTP protocol: each response reaches the socket in one write, bytes in order."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from permsvc.cli.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport
from tests.api.live import live_server


class _Socket(asyncio.Transport):
    """A transport recording each write as the kernel would see it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False
        self.events: list[str] = []

    def write(self, data: Any) -> None:
        assert not self.closing, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        self.events.append("pause_reading")

    def resume_reading(self) -> None:
        self.events.append("resume_reading")

    def get_write_buffer_size(self) -> int:
        return 0


async def _step() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_writes_of_one_step_reach_the_socket_as_one() -> None:
    sock = _Socket()
    transport = CoalescingTransport(sock, asyncio.get_running_loop())
    transport.write(b"head ")
    transport.writelines([bytearray(b"bo"), memoryview(b"dy")])
    assert sock.writes == []
    assert transport.get_write_buffer_size() == len(b"head body")
    await _step()
    assert sock.writes == [b"head body"]
    transport.write(b"next")
    transport.flush()
    transport.flush()
    await _step()
    assert sock.writes == [b"head body", b"next"]


async def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    sock = _Socket()
    transport = CoalescingTransport(sock, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    await _step()
    assert sock.writes == [b"last words"] and sock.events == ["close"]

    sock = _Socket()
    transport = CoalescingTransport(sock, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await _step()
    assert sock.writes == [] and sock.events == ["abort"]


async def test_a_connection_closed_underneath_drops_the_pending_bytes() -> None:
    sock = _Socket()
    transport = CoalescingTransport(sock, asyncio.get_running_loop())
    transport.write(b"too late")
    sock.closing = True  # the peer went away before the step ended
    await _step()
    assert sock.writes == [] and transport.is_closing()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = b'{"allowed":true}' if scope["path"] != "/stream" else b"part"
    message = await receive()
    while scope["path"] == "/whole-body" and message.get("more_body"):  # as the API reads bodies
        message = await receive()
    if scope["path"] == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await asyncio.sleep(0.01)  # the first part must not wait for the rest
        await send({"type": "http.response.body", "body": body})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _protocol(read_timeout_s: float = 60.0) -> tuple[CoalescingHttpToolsProtocol, _Socket]:
    config = Config(
        app=_app,
        http=CoalescingHttpToolsProtocol,
        lifespan="off",
        log_config=None,
        server_header=False,
    )
    protocol = CoalescingHttpToolsProtocol(
        config, ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    protocol.read_timeout_s = read_timeout_s
    sock = _Socket()
    protocol.connection_made(sock)
    return protocol, sock


async def _settle(protocol: CoalescingHttpToolsProtocol) -> None:
    for _ in range(50):
        await asyncio.sleep(0.005)
        if not protocol.server_state.tasks:
            break


async def test_each_response_is_one_write_and_pipelined_ones_stay_in_order() -> None:
    protocol, sock = _protocol()
    request = b"POST /stores/s/check HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
    protocol.data_received(request + request)  # two pipelined requests
    await _settle(protocol)
    assert len(sock.writes) == 2
    for write in sock.writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n") and write.endswith(
            b'\r\n\r\n{"allowed":true}'
        )
        assert b"content-length: 16\r\n" in write
    protocol.connection_lost(None)


async def test_a_streamed_body_goes_out_part_by_part() -> None:
    protocol, sock = _protocol()
    protocol.data_received(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.sleep(0.005)
    assert len(sock.writes) == 1 and sock.writes[0].endswith(b"\r\n\r\n4\r\npart\r\n"), sock.writes
    await _settle(protocol)
    assert b"".join(sock.writes).endswith(b"4\r\npart\r\n0\r\n\r\n")
    protocol.connection_lost(None)


async def test_connection_close_sends_the_response_before_closing() -> None:
    protocol, sock = _protocol()
    protocol.data_received(
        b"POST /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    )
    await _settle(protocol)
    assert (
        len(sock.writes) == 1
        and sock.writes[0].endswith(b'{"allowed":true}')
        and "close" in sock.events
    )
    protocol.connection_lost(None)


@pytest.mark.parametrize("name", ["pause_reading", "resume_reading"])
async def test_flow_control_reaches_the_socket(name: str) -> None:
    sock = _Socket()
    transport = CoalescingTransport(sock, asyncio.get_running_loop())
    getattr(transport, name)()
    assert sock.events == [name]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 5000)


# -- the read timeout: a client may not hold a connection by sending slowly or not at all -------

_TIMEOUT = 0.2
_REFUSED = b"HTTP/1.1 408 Request Timeout\r\n"


async def _wait_for_close(sock: _Socket, seconds: float = 20 * _TIMEOUT) -> None:
    for _ in range(int(seconds / 0.01)):
        if sock.closing:
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"", id="nothing_after_connecting"),
        pytest.param(b"POST /stores/s/check HTTP/1.1\r\nhost: x\r\ncontent-le", id="headers_stall"),
        pytest.param(
            b"POST /whole-body HTTP/1.1\r\nhost: x\r\ncontent-length: 20\r\n\r\n{}",
            id="body_stalls",
        ),
    ],
)
async def test_a_request_that_stops_arriving_gets_408_and_the_connection_closes(
    sent: bytes,
) -> None:
    protocol, sock = _protocol(read_timeout_s=_TIMEOUT)
    if sent:
        protocol.data_received(sent)
    await _wait_for_close(sock)
    assert sock.closing, "the connection was left open"
    assert len(sock.writes) == 1 and sock.writes[0].startswith(_REFUSED), sock.writes
    assert sock.writes[0].endswith(
        b'{"code":"request_timeout","message":"the request did not arrive in time: '
        b'the connection is closed"}'
    )
    assert b"connection: close\r\n" in sock.writes[0]
    protocol.connection_lost(None)  # the kernel's answer to the close: the application task ends
    await _settle(protocol)


async def test_a_body_that_keeps_arriving_is_not_cut_off() -> None:
    protocol, sock = _protocol(read_timeout_s=_TIMEOUT)
    protocol.data_received(b"POST /whole-body HTTP/1.1\r\nhost: x\r\ncontent-length: 8\r\n\r\n")
    for _ in range(8):  # 8 x 0.6 of the timeout: longer in all than the timeout, never stalled
        await asyncio.sleep(0.6 * _TIMEOUT)
        protocol.data_received(b" ")
    await _settle(protocol)
    assert len(sock.writes) == 1 and sock.writes[0].startswith(b"HTTP/1.1 200 OK"), sock.writes
    assert not sock.closing
    protocol.connection_lost(None)


async def test_an_answered_connection_is_left_to_keep_alive() -> None:
    protocol, sock = _protocol(read_timeout_s=_TIMEOUT)
    protocol.data_received(
        b"POST /stores/s/check HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
    )
    await _settle(protocol)
    await asyncio.sleep(3 * _TIMEOUT)
    assert [w[:15] for w in sock.writes] == [b"HTTP/1.1 200 OK"], "a 408 after the answer"
    protocol.connection_lost(None)


async def test_a_stalled_body_after_the_answer_only_closes() -> None:
    """The application answered before reading the body (a refusal): no second response."""
    protocol, sock = _protocol(read_timeout_s=_TIMEOUT)
    protocol.data_received(b"GET /stream HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n{")
    await asyncio.sleep(0.02)
    assert sock.writes and sock.writes[0].startswith(b"HTTP/1.1 200 OK")
    await _wait_for_close(sock)
    assert sock.closing and not any(w.startswith(_REFUSED) for w in sock.writes)
    protocol.connection_lost(None)
    await _settle(protocol)


def test_permsvc_serve_workers_apply_the_configured_read_timeout(tmp_path: Path) -> None:
    """Through a live server: the setting reaches both workers (exported to their environment)."""
    env = {"PERMSVC_REQUEST_READ_TIMEOUT_S": "1"}
    with live_server(tmp_path, "--workers", "2", env=env) as live:
        port = int(live.url.rsplit(":", 1)[1])
        for _ in range(4):  # new connections: the kernel spreads them over the workers
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                conn.sendall(
                    b"POST /stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/check HTTP/1.1\r\nhost: x\r\n"
                    b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{"
                )
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
            assert answer.endswith(
                b'"code":"request_timeout","message":"the request did not '
                b'arrive in time: the connection is closed"}'
            )


@pytest.mark.parametrize(
    "head",
    [
        pytest.param([b"x-pad: " + b"a" * 1000 + b"\r\n"] * 80, id="many_headers"),
        pytest.param([b"x-pad: "] + [b"a" * 1000] * 80, id="one_endless_header"),
        pytest.param([b"/" + b"a" * 1000] * 80, id="endless_url"),
    ],
)
async def test_a_head_over_the_limit_gets_431_and_the_connection_closes(head: list[bytes]) -> None:
    protocol, sock = _protocol()
    protocol.data_received(
        b"GET /x HTTP/1.1\r\nhost: x\r\n" if head[0].startswith(b"x-pad") else b"GET "
    )
    for chunk in head:
        if sock.closing:
            break
        protocol.data_received(chunk)
    assert sock.closing, "the connection was left open"
    assert len(sock.writes) == 1, sock.writes
    assert sock.writes[0].startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert sock.writes[0].endswith(
        b'{"code":"validation_error","message":"the request line and headers exceed 65536 bytes"}'
    )
    protocol.connection_lost(None)


async def test_large_bodies_and_pipelined_requests_are_not_counted_as_head() -> None:
    protocol, sock = _protocol()
    body = b"{" + b" " * 200_000 + b"}"
    request = b"POST /whole-body HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body)
    protocol.data_received(request + body + request[:20])  # one chunk: a request and a half
    protocol.data_received(request[20:] + body)
    await _settle(protocol)
    assert [w[:15] for w in sock.writes] == [b"HTTP/1.1 200 OK"] * 2
    assert not sock.closing
    protocol.connection_lost(None)
