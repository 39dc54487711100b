"""Server-sent events: gatekeeper's and merkle's signals relayed to logged-in pages.

`EventHub` gets wake-up hints from the bus (RequestFiled, RequestDecided, GrantEnded,
SessionSealed) and fans them out to each open ``/api/events`` stream through a bounded
queue; a page that falls behind gets one ``resync`` event instead of a backlog. Events
are hints like the signals they come from: pages re-read the API on each one. A stream
ends when the login expires or is ended, when the hub closes (shutdown), or when the
browser goes away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from lucid.admin_ui.auth import Login, Logins

QUEUE_SIZE = 64
HEARTBEAT_S = 15.0

Event = tuple[str, dict[str, str]]


class EventHub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event | None]] = set()
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

    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(queue)

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
    """Serve one ``text/event-stream`` until the login, the hub or the browser ends it."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    if hub.closed:
        return response
    queue = hub.subscribe()
    try:
        await response.write(b"retry: 3000\n\n" + _frame("hello", {"account": login.account}))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
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
        hub.unsubscribe(queue)
    return response
