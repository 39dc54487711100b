"""Waiting for merkle to seal a session (used by `lucid demo` and `lucid up --desktop`)."""

from __future__ import annotations

import asyncio
import contextlib

from dbus_fast.aio import MessageBus

from lucid.merkle.client import MerkleClient, SealInfo
from lucid.runtime.errors import LucidError, NotFoundError, UnavailableError


async def wait_sealed(bus: MessageBus, session: str, timeout_s: float = 120.0) -> SealInfo:
    """Wait until merkle has sealed ``session``; return its info. A merkle (or pipeline)
    restart on the way is waited out: sealing resumes where it stopped.

    Raises:
        LucidError: merkle failed to seal it (its message says why).
        UnavailableError: not sealed within ``timeout_s`` (the last error says why).
    """
    merkle = MerkleClient(bus)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        with contextlib.suppress(NotFoundError):
            try:
                info = await merkle.get_session(session)
            except UnavailableError as err:  # restarting (or a reply lost with it)
                if loop.time() > deadline:
                    raise UnavailableError(f"session {session} was not sealed: {err}") from err
                await asyncio.sleep(0.5)
                continue
            if info["state"] != "sealed":
                raise LucidError(f"session {session} failed to seal: {info['message']}")
            return info
        if loop.time() > deadline:
            raise UnavailableError(f"session {session} was not sealed within {timeout_s:g} s")
        await asyncio.sleep(0.05)
