"""Figures of the running daemon set: idle memory, and session end -> signed manifest.

``set_rss_mb``: the summed VmRSS of the seven daemons the figure has always counted (the
pipeline, gatekeeper, the web page), idle after start-up (shared library pages counted once
per process, so this overstates; ``set_pss_mb`` is the proportional share).
``appliance_rss_mb``: the same over everything ``lucid up`` runs now (chain-client, with
web3, on top; its anvil is not counted), a reading without a goal yet. ``seal_latency_s``: from the StopSession call of a live 5-second
desktop recording to the SessionSealed signal of merkle (median of 3).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lucid.cli.appliance import running_appliance
from lucid.cli.demo_admin import approve_as_demo_admin
from lucid.cli.desktop import start_desktop
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient

Figure = tuple[str, float, str]

#: The daemons `set_rss_mb` counts (what `lucid up` ran when its goal was set).
SEVEN = ("walletd", "gatekeeper", "recorder", "chunker", "encryptor", "merkle", "admin_ui")


def _kib(pid: int, path: str, field: str) -> int:
    for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/{path}")


async def _measure() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="lucid-bench-") as tmp:
        async with running_appliance(Path(tmp) / "state") as app:
            await asyncio.sleep(3.0)  # let start-up settle
            pids = [app.daemons.pid(n) for n in app.daemons.names if n in SEVEN]
            everything = [app.daemons.pid(n) for n in app.daemons.names]
            rss = sum(_kib(p, "status", "VmRSS") for p in pids) / 1024
            pss = sum(_kib(p, "smaps_rollup", "Pss") for p in pids) / 1024
            all_rss = sum(_kib(p, "status", "VmRSS") for p in everything) / 1024
            state_dir = app.config.paths.state_dir
            latencies = [await _one_session(app.bus, state_dir, n) for n in range(3)]
    return [
        ("set_rss_mb", rss, "≤ 300"),
        ("set_pss_mb", pss, ""),
        ("appliance_rss_mb", all_rss, ""),
        ("seal_latency_s", statistics.median(latencies), "≤ 2"),
    ]


async def _one_session(bus: Any, state_dir: Path, n: int) -> float:
    sealed: asyncio.Queue[str] = asyncio.Queue()
    merkle = MerkleClient(bus)
    await merkle.on_signal("SessionSealed", lambda args: sealed.put_nowait(args[0]))
    desktop = start_desktop(1280, 720)
    session = f"bench-{n}-{int(time.time())}"
    try:
        await approve_as_demo_admin(bus, state_dir, session, "bench")
        recorder = RecorderClient(bus)
        await recorder.start_session(session, desktop.display, "")
        await asyncio.sleep(5.0)
        t0 = time.perf_counter()
        await recorder.stop_session(session)
        while await asyncio.wait_for(sealed.get(), 120) != session:
            pass
        return time.perf_counter() - t0
    finally:
        desktop.stop()


def bench_pipeline(workdir: Path) -> list[Figure]:
    return asyncio.run(_measure())
