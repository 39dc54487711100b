"""The sesman login proxy: xrdp -> here -> xrdp-sesman, speaking SCP v0 (xrdp 0.9).

xrdp 0.9 asks sesman for a session with one SCP v0 message (user, password, screen size,
domain, *program*, *directory*, client address) and gets back the display number. The
program and directory come from the RDP client's "alternate shell" and "working
directory"; sesman 0.9.21 runs that program as the session's window manager instead of the
configured start script, through ``/bin/sh -c`` (``AllowAlternateShell`` only exists from
0.9.22). A client could so run anything as the user before approval. This proxy blanks both
fields in every session request, so sesman always starts the project's start script, and it
tells its owner who logged in from where and which display sesman gave them; the owner may
refuse the login there (xrdp then shows "login failed").

Only v0 session requests (codes 0 Xvnc, 10 X11rdp, 20 Xorg) and gateway authentication
(code 4, no session) pass; anything else (v1 management, unknown codes) is dropped. Passwords
pass through unchanged and are never logged or kept. This module does not know gatekeeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HEADER = struct.Struct(">II")  # version, message size (header included)
MAX_MESSAGE = 8192  # a v0 request is at most ~4 KiB (8 strings of <= 512 bytes)
SESSION_CODES = (0, 10, 20)  # Xvnc, X11rdp, Xorg
GW_AUTHENTICATION = 4  # "check this password" without a session
REPLY_CMD = 3  # sesman's answer to a session request: (ok, display[, guid])
IO_TIMEOUT_S = 60.0  # sesman authenticates (PAM) before it answers; that takes seconds


class ScpError(Exception):
    """A message that is not a well-formed SCP v0 message of a kind this proxy passes."""


@dataclass(frozen=True)
class SessionRequest:
    """A v0 session request. Strings are raw bytes as sent (sesman reads them as C strings)."""

    code: int
    username: bytes
    password: bytes = field(repr=False)
    width: int
    height: int
    bpp: int
    domain: bytes = b""
    program: bytes = b""
    directory: bytes = b""
    client_ip: bytes = b""

    @property
    def user(self) -> str:
        return self.username.decode("utf-8", "replace")

    @property
    def source(self) -> str:
        """The client's address and port (``"10.0.0.5:50123"``; ``""`` if xrdp sent none).

        xrdp 0.9 sends ``"<address>:<port> - socket: <fd>"``; the socket part is dropped.
        """
        return self.client_ip.decode("utf-8", "replace").split(" - ", 1)[0].strip()


def _string(body: bytes, pos: int, what: str) -> tuple[bytes, int]:
    if pos + 2 > len(body):
        raise ScpError(f"{what}: length missing")
    (size,) = struct.unpack_from(">H", body, pos)
    pos += 2
    if size > 512 or pos + size > len(body):
        raise ScpError(f"{what}: {size} bytes do not fit")
    return body[pos : pos + size], pos + size


def parse_request(body: bytes) -> SessionRequest:
    """Parse the body (after the 8-byte header) of a v0 session request.

    Raises:
        ScpError: not a session request, or truncated.
    """
    if len(body) < 2:
        raise ScpError("no command code")
    (code,) = struct.unpack_from(">H", body, 0)
    if code not in SESSION_CODES:
        raise ScpError(f"command code {code} is not a session request")
    pos = 2
    username, pos = _string(body, pos, "username")
    password, pos = _string(body, pos, "password")
    if pos + 6 > len(body):
        raise ScpError("width, height, bpp missing")
    width, height, bpp = struct.unpack_from(">HHH", body, pos)
    pos += 6
    optional: list[bytes] = []
    for what in ("domain", "program", "directory", "client ip"):
        if pos + 2 > len(body):
            break  # sesman reads each of these only if bytes remain; so do we
        value, pos = _string(body, pos, what)
        optional.append(value)
    optional += [b""] * (4 - len(optional))
    return SessionRequest(code, username, password, width, height, bpp, *optional)


def encode_request(req: SessionRequest) -> bytes:
    """The whole v0 message (header included) for ``req``."""
    body = struct.pack(">H", req.code)
    for value in (req.username, req.password):
        body += struct.pack(">H", len(value)) + value
    body += struct.pack(">HHH", req.width, req.height, req.bpp)
    for value in (req.domain, req.program, req.directory, req.client_ip):
        body += struct.pack(">H", len(value)) + value
    return HEADER.pack(0, HEADER.size + len(body)) + body


def without_shell(req: SessionRequest) -> SessionRequest:
    """``req`` with the client's alternate shell and working directory removed."""
    return SessionRequest(
        req.code,
        req.username,
        req.password,
        req.width,
        req.height,
        req.bpp,
        req.domain,
        b"",
        b"",
        req.client_ip,
    )


def parse_reply(body: bytes) -> tuple[bool, int]:
    """(allowed, display) from the body of sesman's answer to a session request.

    Raises:
        ScpError: not such an answer.
    """
    if len(body) < 6:
        raise ScpError("short reply")
    cmd, ok, display = struct.unpack_from(">HHH", body, 0)
    if cmd != REPLY_CMD:
        raise ScpError(f"reply command {cmd}, expected {REPLY_CMD}")
    return ok == 1, display


DENY_REPLY = HEADER.pack(0, 14) + struct.pack(">HHH", REPLY_CMD, 0, 0)


@dataclass(frozen=True)
class Login:
    """A session sesman granted: who, from where, on which display."""

    user: str
    source: str
    display: int


#: Called with each granted session; returns False to refuse it (xrdp sees a denial).
OnLogin = Callable[[Login], Awaitable[bool]]


async def _read_message(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """(version, header bytes, body) of one SCP message."""
    head = await reader.readexactly(HEADER.size)
    version, size = HEADER.unpack(head)
    if size < HEADER.size or size > MAX_MESSAGE:
        raise ScpError(f"message size {size} out of range")
    body = await reader.readexactly(size - HEADER.size)
    return version, head, body


class ScpProxy:
    """Accept xrdp's sesman connections and forward them to the real sesman.

    Args:
        upstream_port: sesman's port on the loopback interface (sesman 0.9 binds ``::1``
            when told ``127.0.0.1`` and IPv6 is up, so both are tried).
        on_login: told about each granted session; may refuse it.
    """

    def __init__(self, upstream_port: int, on_login: OnLogin) -> None:
        self._upstream_port = upstream_port
        self._on_login = on_login
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int, hosts: tuple[str, ...] = ("127.0.0.1", "::1")) -> None:
        """Listen on ``port`` of each of ``hosts`` (xrdp dials 127.0.0.1 or ::1)."""
        self._server = await asyncio.start_server(self._accept, list(hosts), port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        failure: OSError | None = None
        for host in ("::1", "127.0.0.1"):
            try:
                return await asyncio.open_connection(host, self._upstream_port)
            except OSError as err:
                failure = err
        assert failure is not None
        raise failure

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            version, head, body = await asyncio.wait_for(_read_message(reader), IO_TIMEOUT_S)
            if version != 0:
                raise ScpError(f"SCP version {version} is not passed (only v0 logins)")
            (code,) = struct.unpack_from(">H", body, 0) if len(body) >= 2 else (-1,)
            request: SessionRequest | None = None
            if code == GW_AUTHENTICATION:
                message = head + body
            else:
                request = parse_request(body)
                if request.program or request.directory:
                    log.warning(
                        "login of %s from %s asked for shell %r in %r: ignored",
                        request.user,
                        request.source or "?",
                        request.program.decode("utf-8", "replace"),
                        request.directory.decode("utf-8", "replace"),
                    )
                message = encode_request(without_shell(request))
            up_reader, upstream = await self._connect_upstream()
            upstream.write(message)
            await upstream.drain()
            _v, rhead, rbody = await asyncio.wait_for(_read_message(up_reader), IO_TIMEOUT_S)
            reply = rhead + rbody
            if request is not None:
                allowed, display = parse_reply(rbody)
                if allowed:
                    login = Login(request.user, request.source, display)
                    if not await self._on_login(login):
                        log.warning("refused %s from %s on display :%d", *_fields(login))
                        reply = DENY_REPLY
            writer.write(reply)
            await writer.drain()
        except (ScpError, asyncio.IncompleteReadError, TimeoutError, OSError) as err:
            log.warning("sesman connection dropped: %s", err or type(err).__name__)
        except Exception:  # the login fails (fail closed); the proxy keeps serving
            log.exception("sesman connection failed")
        finally:
            for w in (upstream, writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(OSError, asyncio.CancelledError):
                        await w.wait_closed()


def _fields(login: Login) -> tuple[str, str, int]:
    return login.user, login.source or "?", login.display
