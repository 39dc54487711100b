"""``lucid sessions`` and ``lucid export``: talk to a running appliance over the bus."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path

from lucid.cli.connect import connect_cli
from lucid.cli.progress import byte_bar
from lucid.merkle.client import MerkleClient
from lucid.merkle.session_state import display_state
from lucid.recorder.client import RecorderClient
from lucid.runtime.errors import BusError, StorageFullError


async def sessions(state: Path | None) -> int:
    """Print every session the recorder or merkle knows, with its state
    (`lucid.merkle.session_state.display_state`)."""
    bus = await connect_cli(state)
    try:
        recorded = {s["session"]: s for s in await RecorderClient(bus).list_sessions()}
        sealed = {s["session"]: s for s in await MerkleClient(bus).list_sessions()}
    finally:
        bus.disconnect()
    if not recorded and not sealed:
        print("no sessions")
        return 0
    print(f"{'SESSION':<36} {'STATE':<12} {'STARTED':<24} {'CHUNKS':>6}  ROOT")
    for name in sorted(set(recorded) | set(sealed)):
        rec = recorded.get(name)
        seal = sealed.get(name)
        state_text = display_state(rec, seal)
        started = rec["started_at"] if rec else ""
        chunks, root = (seal["chunks"], seal["root"][:16]) if seal else ("", "")
        print(f"{name:<36} {state_text:<12} {started:<24} {chunks:>6}  {root}")
    return 0


async def export(state: Path | None, session: str, output: Path) -> int:
    """Export ``session`` into ``output`` (written as .part, renamed when complete)."""
    bus = await connect_cli(state)
    tmp = output.with_name(output.name + ".part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as err:
        bus.disconnect()
        raise StorageFullError(f"cannot create {tmp}: {err.strerror}") from err
    try:
        merkle = MerkleClient(bus, timeout_s=600)
        expected = int((await merkle.get_session(session))["bytes"])
        size = await _with_progress(merkle.export_bundle(session, fd), fd, expected)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, output)
    except BusError:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if fd >= 0:
            os.close(fd)
        bus.disconnect()
    print(f"{output} ({size} bytes)")
    return 0


async def _with_progress(work: Awaitable[int], fd: int, expected: int) -> int:
    """Await ``work`` while a progress bar follows the size of the file behind ``fd``."""
    task = asyncio.ensure_future(work)
    with byte_bar(expected, "export") as bar:
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            bar.update(max(0, min(expected, os.fstat(fd).st_size) - bar.n))
    return task.result()
