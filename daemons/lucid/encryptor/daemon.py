"""encryptor wiring: config -> db -> store -> sealer; scans on a timer and on ChunkReady."""

from __future__ import annotations

import asyncio
from typing import Any

from lucid.chunker.client import ChunkerClient
from lucid.encryptor.player import Player
from lucid.encryptor.sealer import MIGRATIONS, Sealer
from lucid.encryptor.service import EncryptorService
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime, warn_if_not_ram
from lucid.runtime.db import open_db
from lucid.runtime.errors import BusError, LucidError
from lucid.runtime.memory import keep_chunk_buffers
from lucid.runtime.store import ChunkStore
from lucid.walletd.client import WalletdClient


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    state = cfg.paths.daemon_state("encryptor")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    cfg.paths.store_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    cfg.paths.spool_dir.mkdir(parents=True, exist_ok=True)
    warn_if_not_ram(rt)
    keep_chunk_buffers()
    db = await open_db(state / "encryptor.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    service = EncryptorService(rt.bus)
    walletd = WalletdClient(rt.bus, cfg.bus.max_calls_in_flight, cfg.bus.call_timeout_s)
    store = ChunkStore(cfg.paths.store_dir, fsync=cfg.encryptor.fsync)
    sealer = Sealer(
        db,
        cfg.paths.spool_dir,
        store,
        walletd.create_data_key,
        service.chunk_sealed,
        service.session_complete,
    )
    service.sealer = sealer
    service.player = Player(
        sealer, store, walletd.open_data_key, rt.spawn, cfg.encryptor.max_playbacks
    )
    wake = asyncio.Event()

    def on_chunk(_args: list[Any]) -> None:
        wake.set()

    await ChunkerClient(rt.bus).on_signal("ChunkReady", on_chunk)
    rt.spawn(_loop(rt, sealer, service, wake), "seal")
    return service


async def _loop(
    rt: Runtime, sealer: Sealer, service: EncryptorService, wake: asyncio.Event
) -> None:
    interval = rt.config.encryptor.scan_seconds
    last_error = ""
    while not rt.stopping.is_set():
        try:
            await sealer.scan()
            last_error = ""
        except (BusError, LucidError, OSError) as err:
            text = str(err)
            if text != last_error:  # log a persisting failure once, not every scan
                rt.log.error("sealing paused: %s", text)
                name = err.name if isinstance(err, BusError) else "io.lucid.Error.Failed"
                service.seal_failed("", name, text)
                last_error = text
            await rt.sleep(max(interval, 2.0))
        await rt.pause(wake, interval)
