"""Waiting for a session's anchor to be confirmed (used by `lucid demo`).

A client-side helper over `ChainClientClient`: it polls GetSession and gives up early when
chain-client reports an error only a person can fix (no anvil, wrong chain, no contract).
"""

from __future__ import annotations

import asyncio

from dbus_fast.aio import MessageBus

from lucid.chain_client.client import ChainClientClient
from lucid.runtime.errors import NotFoundError

#: Errors after which waiting is pointless (the daemon will not anchor by itself).
STUCK = frozenset(
    {"io.lucid.Error.NoLocalChain", "io.lucid.Error.WrongChain", "io.lucid.Error.NoContract"}
)


async def wait_anchored(bus: MessageBus, session: str, timeout_s: float = 60.0) -> dict[str, str]:
    """Wait until ``session`` is anchored; return its GetSession info.

    Returns:
        The info with ``state == "anchored"``; on a timeout or a stuck chain-client, the
        last info seen (possibly ``{}``) with ``"why"`` added.
    """
    client = ChainClientClient(bus)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    info: dict[str, str] = {}
    while True:
        status = await client.get_status()
        if status.get("ledger") == "none":
            return info | {"why": "ledger none"}
        try:
            info = {k: str(v) for k, v in (await client.get_session(session)).items()}
        except NotFoundError:
            info = {}
        if info.get("state") == "anchored":
            return info
        if status.get("error") in STUCK:
            return info | {"why": f"{status['error']}: {status['error_message']}"}
        if loop.time() > deadline:
            why = status.get("error_message") or status.get("activity") or "no anchor yet"
            return info | {"why": f"not anchored within {timeout_s:g} s ({why})"}
        await asyncio.sleep(0.1)
