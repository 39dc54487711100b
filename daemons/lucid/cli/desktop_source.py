"""The demo session source of `lucid up --desktop`: a live Xvfb desktop that asks to be recorded.

It files a session request with gatekeeper and waits, like an RDP login would, until an admin
approves it on the web page (or with `lucid sessions approve`); then the recorder records the
desktop until the appliance stops or the grant ends (revoke, expiry), and the next request is
filed. A denied or expired request is followed by a fresh one. Nothing here approves anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from dbus_fast.aio import MessageBus

from lucid.cli.demo_admin import DEMO_SCOPE
from lucid.cli.sealing import wait_sealed
from lucid.gatekeeper.client import GatekeeperClient
from lucid.recorder.client import RecorderClient
from lucid.runtime.errors import NotFoundError
from lucid.runtime.ids import new_session_id

POLL_S = 0.5  # how often the source looks at its grant (a hint would do; this is a demo)
LIVE = ("approved", "active")


async def _state(gatekeeper: GatekeeperClient, session: str) -> str:
    with contextlib.suppress(NotFoundError):
        return (await gatekeeper.get_grant(session)).get("state", "")
    return ""


async def _until(stop: asyncio.Event, done: Callable[[], Awaitable[bool]]) -> bool:
    """Poll ``done`` (async) until truthy; False if ``stop`` came first."""
    while not stop.is_set():
        if await done():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_S)
    return False


async def run_desktop_source(
    bus: MessageBus, display: str, url: str, stop: asyncio.Event, say: Callable[[str], None]
) -> None:
    """Request, wait for approval, record; repeat until ``stop`` is set (then seal)."""
    gatekeeper, recorder = GatekeeperClient(bus), RecorderClient(bus)
    while not stop.is_set():
        session = new_session_id("desktop")
        await gatekeeper.request_session(
            {
                "id": session,
                "user": "desktop",
                "source": display,
                "target": "desktop",
                "requested_scope": DEMO_SCOPE,
            }
        )
        say(f"session {session} waits for approval: open {url} (Requests)")

        async def decided(session: str = session) -> bool:
            return await _state(gatekeeper, session) not in ("pending", "")

        if not await _until(stop, decided):
            return
        state = await _state(gatekeeper, session)
        if state != "approved":
            say(f"session {session} was {state}; filing a new request")
            continue
        await recorder.start_session(session, display, "")
        say(f"recording {display} as {session}; Ctrl-C stops and seals it")

        async def grant_over(session: str = session) -> bool:
            return await _state(gatekeeper, session) not in LIVE

        if not await _until(stop, grant_over):
            say(f"stopping; sealing {session} …")
            await recorder.stop_session(session)
        else:
            say(f"grant of {session} ended ({await _state(gatekeeper, session)}); it seals")
        info = await wait_sealed(bus, session)
        say(f"sealed {session}: {info['chunks']} chunks, root {info['root']}")
