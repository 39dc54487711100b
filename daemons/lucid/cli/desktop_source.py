"""The demo session source of `lucid up --desktop`: a live Xvfb desktop that asks to be recorded.

It files a session request with gatekeeper and waits, like an RDP login would, until an admin
approves it on the web page (or with `lucid sessions approve`); then the recorder records the
desktop until the appliance stops or the grant ends (revoke, expiry), and the next request is
filed. A denied or expired request is followed by a fresh one. Nothing here approves anything.

A daemon's restart (kill -9, crash) never ends the source: the bus clients wait for a daemon
that left the bus (lucid.runtime.bus.ContractClient), a reply lost with a dying daemon is
asked again where asking again is safe (reads; a request or start whose effect is checked
first; a stop), and a peer gone for longer files a fresh request after a pause.
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
from lucid.runtime.errors import ConflictError, NotFoundError, UnavailableError
from lucid.runtime.ids import new_session_id

POLL_S = 0.5  # how often the source looks at its grant (a hint would do; this is a demo)
LIVE = ("approved", "active")
LOST_REPLY_RETRIES = 5  # a call whose reply died with its daemon, asked again this often
PAUSE_S = 5.0  # after a peer stayed away longer than its clients wait, before starting over


async def _state(gatekeeper: GatekeeperClient, session: str) -> str | None:
    """The request's state ("" if gatekeeper does not know it); None while gatekeeper is
    unreachable (restarting: the caller looks again on its next poll)."""
    try:
        return (await gatekeeper.get_grant(session)).get("state", "")
    except NotFoundError:
        return ""
    except UnavailableError:
        return None


async def _again(attempt: Callable[[], Awaitable[None]]) -> None:
    """Run ``attempt``, again after a reply lost with a restarting daemon (``attempt`` must
    be safe to repeat); the last attempt's UnavailableError propagates."""
    for _ in range(LOST_REPLY_RETRIES - 1):
        try:
            await attempt()
            return
        except UnavailableError:
            await asyncio.sleep(POLL_S)
    await attempt()


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
        try:
            await _one_session(bus, gatekeeper, recorder, display, url, stop, say)
        except UnavailableError as err:
            say(f"{err}; starting over in {PAUSE_S:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PAUSE_S)


async def _one_session(
    bus: MessageBus,
    gatekeeper: GatekeeperClient,
    recorder: RecorderClient,
    display: str,
    url: str,
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> None:
    session = new_session_id("desktop")

    async def file() -> None:
        if await _state(gatekeeper, session):
            return  # filed by an attempt whose reply was lost
        with contextlib.suppress(ConflictError):  # ditto, seen by gatekeeper only now
            await gatekeeper.request_session(
                {
                    "id": session,
                    "user": "desktop",
                    "source": display,
                    "target": "desktop",
                    "requested_scope": DEMO_SCOPE,
                }
            )

    await _again(file)
    say(f"session {session} waits for approval: open {url} (Requests)")

    async def decided() -> bool:
        return await _state(gatekeeper, session) not in ("pending", "", None)

    if not await _until(stop, decided):
        return
    state = await _state(gatekeeper, session)
    if state != "approved":
        say(f"session {session} was {state}; filing a new request")
        return
    attempts = 0

    async def start() -> None:
        nonlocal attempts
        attempts += 1
        try:
            await recorder.start_session(session, display, "")
        except ConflictError:
            if attempts == 1:  # the id is new: only an attempt whose reply was lost started it
                raise

    await _again(start)
    say(f"recording {display} as {session}; Ctrl-C stops and seals it")

    async def grant_over() -> bool:
        state = await _state(gatekeeper, session)
        return state is not None and state not in LIVE

    if not await _until(stop, grant_over):
        say(f"stopping; sealing {session} …")

        async def stop_recording() -> None:
            with contextlib.suppress(ConflictError):  # not recording: a lost reply stopped it
                await recorder.stop_session(session)

        await _again(stop_recording)
    else:
        say(f"grant of {session} ended ({await _state(gatekeeper, session)}); it seals")
    info = await wait_sealed(bus, session)
    say(f"sealed {session}: {info['chunks']} chunks, root {info['root']}")
