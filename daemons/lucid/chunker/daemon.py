"""chunker wiring: config -> db -> cutter; scans the spool on a timer and on SegmentReady."""

from __future__ import annotations

import asyncio
from typing import Any

from lucid.chunker.compress import CompressionLevels
from lucid.chunker.cutter import MIGRATIONS, CutPolicy, Cutter
from lucid.chunker.service import ChunkerService
from lucid.recorder.client import RecorderClient
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime, warn_if_not_ram
from lucid.runtime.db import open_db
from lucid.runtime.errors import LucidError
from lucid.runtime.memory import keep_chunk_buffers


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    state = cfg.paths.daemon_state("chunker")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    cfg.paths.spool_dir.mkdir(parents=True, exist_ok=True)
    warn_if_not_ram(rt)
    keep_chunk_buffers()
    db = await open_db(state / "chunker.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    service = ChunkerService(rt.bus)
    policy = CutPolicy(
        chunk_bytes=cfg.chunker.chunk_bytes,
        flush_seconds=cfg.chunker.flush_seconds,
        levels=CompressionLevels(
            video_level=cfg.chunker.video_level, audit_level=cfg.chunker.audit_level
        ),
    )
    cutter = Cutter(db, cfg.paths.spool_dir, policy, service.chunk_ready)
    service.cutter = cutter
    wake = asyncio.Event()

    def on_segment(_args: list[Any]) -> None:
        wake.set()

    await RecorderClient(rt.bus).on_signal("SegmentReady", on_segment)
    await RecorderClient(rt.bus).on_signal("SessionEnded", on_segment)
    rt.spawn(_loop(rt, cutter, wake), "scan")
    return service


async def _loop(rt: Runtime, cutter: Cutter, wake: asyncio.Event) -> None:
    interval = rt.config.chunker.scan_seconds
    while not rt.stopping.is_set():
        try:
            await cutter.scan()
        except LucidError as err:
            rt.log.error("%s", err)
        except OSError as err:
            rt.log.error("spool error: %s", err)
        await rt.pause(wake, interval)
