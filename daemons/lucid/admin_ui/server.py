"""The HTTP server's own defences: a connection cap, header and body deadlines, safe errors.

aiohttp reads request headers and bodies without a deadline of its own and answers
malformed requests (bad request line, oversized header) itself, with a traceback in the
log and without the page's security headers. This module wraps it:

* `GuardedSite` serves the application on a bound socket through `Guard` connections.
  With ``max_connections`` open already, a new connection takes the place of the one idle
  longest (no request in progress: a keep-alive left open after its last answer was
  written, or headers still dribbling), which is closed; if every connection has a request
  in progress, the new one gets a canned ``503`` (with `security.HEADERS`) and is closed at
  once. Either way nothing waits, the descriptors stay bounded, and idle connections
  cannot keep the page from answering a new one.
* `Guard` closes a connection whose first request's headers are not complete
  ``header_timeout_s`` after it opened; later requests on the connection get the same
  deadline from aiohttp's keep-alive timer, which is set to ``header_timeout_s`` too (it
  closes a connection idle — or dribbling headers — that long after its last answer).
  aiohttp's own error answers (400, 431, …) get the security headers, and a client's
  malformed request is logged as one line, not a traceback.
* `body_middleware` reads a request body within ``body_timeout_s`` (else 408, and the
  connection is closed) — bodies are small JSON here, so each handler gets it read.

What this does not do: tell clients apart (the page listens on loopback, where every
local user is 127.0.0.1); the rate limits (`limits`) and the event stream caps (`sse`)
are per account or per login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from lucid.admin_ui.jsonio import ApiError
from lucid.admin_ui.security import HEADERS, Handler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 256  # open connections; more are answered 503 and closed
    header_timeout_s: float = 10.0  # headers must be complete this long after connect/answer
    body_timeout_s: float = 10.0  # a request body must arrive within this


GUARD_KEY: Final = web.AppKey("server_limits", ServerLimits)


def _canned(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": code, "message": message}).encode()
    head = [
        f"HTTP/1.1 {status}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "Cache-Control: no-store",
        "Retry-After: 1",
        *(f"{name}: {value}" for name, value in HEADERS.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


TOO_MANY_CONNECTIONS = _canned(
    "503 Service Unavailable", "busy", "too many open connections; try again in 1 s"
)


class _Refuse(asyncio.Protocol):
    """A connection over the cap: answered 503 and closed without reading anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(TOO_MANY_CONNECTIONS)
        transport.close()


class Guard(RequestHandler):
    """aiohttp's connection handler with a first-request deadline and safe error answers."""

    def __init__(
        self, manager: web.Server, limits: ServerLimits, on_lost: Callable[[Guard], None]
    ) -> None:
        super().__init__(
            manager,
            loop=asyncio.get_running_loop(),
            keepalive_timeout=limits.header_timeout_s,
            lingering_time=0,  # a body left unread is not waited for: the connection closes
        )
        self._header_timeout_s = limits.header_timeout_s
        self._first_deadline: asyncio.TimerHandle | None = None
        self._on_lost = on_lost
        self.started = False  # set by `body_middleware` when the first request reaches it
        self.in_request = False  # from `body_middleware` until the answer is written
        self.idle_since = asyncio.get_running_loop().time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._first_deadline = asyncio.get_running_loop().call_later(
            self._header_timeout_s, self._headers_overdue
        )

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_deadline()
        self._on_lost(self)
        super().connection_lost(exc)

    def request_started(self) -> None:
        self.started = True
        self.in_request = True
        self._cancel_deadline()

    def log_access(self, *args: Any, **kw: Any) -> None:
        # aiohttp calls this once an answer is written out (or failed): the connection is
        # idle from here until its next request (access logging itself is off).
        self.in_request = False
        self.idle_since = asyncio.get_running_loop().time()

    def idle_for(self, now: float) -> float | None:
        """Seconds without a request in progress, or None while one is in progress."""
        return None if self.in_request else now - self.idle_since

    def _cancel_deadline(self) -> None:
        if self._first_deadline is not None:
            self._first_deadline.cancel()
            self._first_deadline = None

    def _headers_overdue(self) -> None:
        self._first_deadline = None
        if not self.started:
            self.force_close()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own answer to a request it could not parse, with the security headers."""
        response = super().handle_error(request, status, exc, message)
        response.headers.update(HEADERS)
        response.headers["Cache-Control"] = "no-store"
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError):  # the client's fault: one line, no traceback
            what = args[0] % args[1:] if len(args) > 1 else str(args[0] if args else "")
            reason = (str(exc.message).splitlines() or [""])[0][:200]
            log.warning("%s: %s", what, reason)
        else:
            log.error(*args, **kw)


class GuardedSite(web.BaseSite):
    """Serve ``runner``'s application on the bound, listening ``sock`` through `Guard`."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, limits: ServerLimits) -> None:
        super().__init__(runner)
        self._sock = sock
        self._limits = limits
        host, port = sock.getsockname()[:2]
        self._name = f"http://{host}:{port}"

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        limits = self._limits
        # Counted here, when asyncio asks for a protocol: it accepts a batch of connections
        # before any of them is "made". A guard that never connects is dropped by the GC.
        live: weakref.WeakSet[Guard] = weakref.WeakSet()
        loop = asyncio.get_running_loop()

        def connection() -> asyncio.Protocol:
            if len(live) >= limits.max_connections:
                now = loop.time()
                idle = [(i, g) for g in live if (i := g.idle_for(now)) is not None]
                if not idle:
                    log.warning("%d connections busy: refusing more", limits.max_connections)
                    return _Refuse()
                log.warning("%d connections open: closing the idlest", limits.max_connections)
                idlest = max(idle, key=lambda pair: pair[0])[1]
                live.discard(idlest)
                idlest.force_close()
            guard = Guard(server, limits, live.discard)
            live.add(guard)
            return guard

        self._server = await loop.create_server(connection, sock=self._sock)


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Mark the connection busy with a request; read the request's body within the deadline."""
    guard = request.protocol
    if isinstance(guard, Guard):
        guard.request_started()
    if request.body_exists:
        limits = request.app[GUARD_KEY]
        try:
            async with asyncio.timeout(limits.body_timeout_s):
                await request.read()  # kept by aiohttp: handlers read it again for free
        except TimeoutError as err:
            raise ApiError(
                408,
                "timeout",
                f"the request body did not arrive within {limits.body_timeout_s:g} s",
            ) from err
    return await handler(request)
