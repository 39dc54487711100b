"""A full chunk store: sealing pauses with a named error, loses nothing, resumes."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.encryptor.client import EncryptorClient
from lucid.evidence.tree import leaf_hash
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient
from tests.conftest import LucidEnv, wait_for


def _store_is_sound(store: Path) -> None:
    for path in store.rglob("*"):
        if path.is_file():
            assert not path.name.endswith(".tmp"), f"half-written {path} left in the store"
            assert leaf_hash(path.read_bytes()).hex() == path.name, f"{path} is damaged"


async def test_full_store_pauses_then_resumes(
    lucid: LucidEnv, bus: MessageBus, small_fs: Callable[[Path, str], Path]
) -> None:
    store = small_fs(lucid.state / "store", "96k")
    lucid.set("chunker", "chunk_bytes", str(48 * 1024))
    lucid.set("chunker", "flush_seconds", "1.0")
    await lucid.start("walletd", "recorder", "chunker", "encryptor", "merkle")
    failures: list[list[Any]] = []
    await EncryptorClient(bus).on_signal("SealFailed", failures.append)
    recorder = RecorderClient(bus)
    desktop = start_desktop(640, 480)
    try:
        await recorder.start_session("storefull", desktop.display, "")
        await wait_for(lambda: failures, 90, "SealFailed")
        await recorder.stop_session("storefull")
    finally:
        desktop.stop()
    assert failures[0][1] == "io.lucid.Error.StorageFull"
    _store_is_sound(store)
    pending = list((lucid.spool / "storefull").rglob("chunk-*.zc"))
    assert pending, "unsealed chunks must wait in the spool, not vanish"
    await asyncio.to_thread(
        subprocess.run, ["mount", "-o", "remount,size=64m", str(store)], check=True
    )
    merkle = MerkleClient(bus)

    async def sealed() -> bool:
        return any(s["session"] == "storefull" for s in await merkle.list_sessions())

    await wait_for(sealed, 120, "sealing to resume once space is back")
    info = await merkle.get_session("storefull")
    assert info["state"] == "sealed"
    _store_is_sound(store)
