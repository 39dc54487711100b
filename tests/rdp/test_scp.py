"""The sesman proxy against a scripted sesman: what passes, what is blanked, what is refused."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from lucid.rdp_gate.scp import (
    DENY_REPLY,
    HEADER,
    Login,
    ScpError,
    ScpProxy,
    SessionRequest,
    encode_request,
    parse_reply,
    parse_request,
)

REQUEST = SessionRequest(
    code=0,
    username=b"alice",
    password=b"s3cret",
    width=1024,
    height=768,
    bpp=24,
    domain=b"",
    program=b"xterm -e sh",
    directory=b"/tmp",
    client_ip=b"10.0.0.5:50123 - socket: 12",
)


def _reply(display: int, ok: int = 1) -> bytes:
    return HEADER.pack(0, 14) + struct.pack(">HHH", 3, ok, display)


def test_request_round_trip_and_source() -> None:
    message = encode_request(REQUEST)
    version, size = HEADER.unpack(message[:8])
    assert (version, size) == (0, len(message))
    assert parse_request(message[8:]) == REQUEST
    assert REQUEST.source == "10.0.0.5:50123"
    assert "s3cret" not in repr(REQUEST)


def test_short_requests_stop_where_sesman_stops() -> None:
    # xrdp may end the message after any optional string; so does the parse
    body = encode_request(REQUEST)[8:]
    cut = body[: body.index(b"xterm") - 2]  # up to and including the domain
    parsed = parse_request(cut)
    assert parsed.program == b"" and parsed.client_ip == b""
    with pytest.raises(ScpError):
        parse_request(body[:5])  # the username's length says more than there is
    with pytest.raises(ScpError):
        parse_request(struct.pack(">H", 99) + body[2:])  # not a session request


def test_reply() -> None:
    assert parse_reply(_reply(12)[8:]) == (True, 12)
    assert parse_reply(DENY_REPLY[8:]) == (False, 0)
    with pytest.raises(ScpError):
        parse_reply(struct.pack(">HHH", 4, 1, 10))


@dataclass
class FakeSesman:
    port: int
    received: list[bytes] = field(default_factory=list)
    display: int = 11


@pytest.fixture
async def sesman() -> AsyncIterator[FakeSesman]:
    fake = FakeSesman(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(8)
        _v, size = HEADER.unpack(head)
        fake.received.append(head + await reader.readexactly(size - 8))
        writer.write(_reply(fake.display))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    yield fake
    server.close()
    await server.wait_closed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _exchange(port: int, message: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(message)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


@pytest.mark.parametrize("allow", [True, False])
async def test_proxy_blanks_the_shell_and_reports_the_login(
    sesman: FakeSesman, allow: bool
) -> None:
    logins: list[Login] = []

    async def on_login(login: Login) -> bool:
        logins.append(login)
        return allow

    proxy, port = ScpProxy(sesman.port, on_login), _free_port()
    await proxy.start(port, ("127.0.0.1",))
    try:
        answer = await _exchange(port, encode_request(REQUEST))
    finally:
        await proxy.close()
    (forwarded,) = sesman.received
    seen = parse_request(forwarded[8:])
    assert seen.program == b"" and seen.directory == b""
    assert (seen.username, seen.password, seen.client_ip) == (
        b"alice",
        b"s3cret",
        REQUEST.client_ip,
    )
    assert logins == [Login("alice", "10.0.0.5:50123", 11)]
    assert answer == (_reply(11) if allow else DENY_REPLY)


async def test_proxy_drops_other_protocol_versions(sesman: FakeSesman) -> None:
    async def on_login(login: Login) -> bool:
        raise AssertionError("no login expected")

    proxy, port = ScpProxy(sesman.port, on_login), _free_port()
    await proxy.start(port, ("127.0.0.1",))
    try:
        v1 = HEADER.pack(1, 16) + struct.pack(">HHHH", 1, 1, 0, 0)
        assert await _exchange(port, v1) == b""
    finally:
        await proxy.close()
    assert sesman.received == []
