"""Server-sent events: gatekeeper's and merkle's signals relayed to logged-in pages.

`EventHub` gets wake-up hints from the bus (RequestFiled, RequestDecided, GrantEnded,
SessionSealed) and fans them out to each open ``/api/events`` stream through a bounded
queue; a page that falls behind gets one ``resync`` event instead of a backlog. Events
are hints like the signals they come from: pages re-read the API on each one. A stream
ends when the login expires or is ended, when the hub closes (shutdown), or when the
browser goes away (noticed within ``ALIVE_CHECK_S``, so its place is free again).

Streams are capped: at most ``per_login`` open streams per login (more are answered 429;
a page retries on its own) and ``total`` in all (more are answered 503), so that one login
cannot hold the server's connections.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from lucid.admin_ui.accounts import digest
from lucid.admin_ui.auth import Login, Logins
from lucid.admin_ui.jsonio import ApiError

QUEUE_SIZE = 64
HEARTBEAT_S = 15.0
ALIVE_CHECK_S = 1.0  # how often an idle stream looks whether its connection is gone

Event = tuple[str, dict[str, str]]


class EventHub:
    """Fan-out of events to at most ``total`` streams, ``per_login`` for any one login."""

    def __init__(self, total: int = 64, per_login: int = 4) -> None:
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._per_login: dict[str, int] = {}
        self._limits = (max(1, total), max(1, per_login))
        self.closed = False

    def publish(self, name: str, data: dict[str, str]) -> None:
        for queue in self._queues:
            try:
                queue.put_nowait((name, data))
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(("resync", {}))

    def relay(self, name: str, *fields: str) -> Callable[[list[Any]], None]:
        """A bus signal callback publishing ``name`` with the signal's args as ``fields``."""

        def callback(args: list[Any]) -> None:
            self.publish(name, {k: str(v) for k, v in zip(fields, args, strict=False)})

        return callback

    def subscribe(self, login: str) -> asyncio.Queue[Event | None]:
        """A new stream's queue for ``login`` (a key of the login, not its token).

        Raises:
            ApiError: 429 if ``login`` has ``per_login`` streams open, 503 if all have
                ``total``.
        """
        total, per_login = self._limits
        if self._per_login.get(login, 0) >= per_login:
            raise ApiError(
                429,
                "too_many_streams",
                f"this login has {per_login} event streams open already; close a tab",
                {"Retry-After": str(int(HEARTBEAT_S))},
            )
        if len(self._queues) >= total:
            raise ApiError(
                503,
                "busy",
                f"{total} event streams are open; try again later",
                {"Retry-After": str(int(HEARTBEAT_S))},
            )
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        self._per_login[login] = self._per_login.get(login, 0) + 1
        return queue

    def unsubscribe(self, login: str, queue: asyncio.Queue[Event | None]) -> None:
        if queue not in self._queues:
            return
        self._queues.discard(queue)
        left = self._per_login.pop(login, 1) - 1
        if left > 0:
            self._per_login[login] = left

    @property
    def streams(self) -> int:
        """Streams open now."""
        return len(self._queues)

    async def close(self, _app: object = None) -> None:
        """End every stream (called on application shutdown)."""
        self.closed = True
        for queue in self._queues:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)


def _frame(name: str, data: dict[str, str]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def stream(
    request: web.Request, hub: EventHub, logins: Logins, login: Login
) -> web.StreamResponse:
    """Serve one ``text/event-stream`` until the login, the hub or the browser ends it.

    Raises:
        ApiError: the stream caps (see `EventHub.subscribe`); nothing was sent then.
    """
    key = digest(login.token)
    queue = None if hub.closed else hub.subscribe(key)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    if queue is None:
        await response.prepare(request)
        return response
    loop = asyncio.get_running_loop()
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n" + _frame("hello", {"account": login.account}))
        ping_at = loop.time() + HEARTBEAT_S
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), ALIVE_CHECK_S)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the browser went away
                if loop.time() < ping_at:
                    continue
                ping_at = loop.time() + HEARTBEAT_S
                if await logins.find(login.token) is None:
                    await response.write(_frame("logout", {}))
                    break
                await response.write(b": ping\n\n")
                continue
            if item is None:
                break
            await response.write(_frame(*item))
    except (ConnectionResetError, ConnectionError):
        pass  # the browser went away
    finally:
        hub.unsubscribe(key, queue)
    return response
