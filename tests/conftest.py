"""Shared fixtures: a private dbus-daemon, the daemons as real processes, config in tmp."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from dbus_fast.aio import MessageBus

from lucid.runtime.bus import connect
from lucid.runtime.pyecc import reset_recursion_limit
from lucid.runtime.supervisor import DaemonSet, start_private_bus


@pytest.fixture(autouse=True)
def default_recursion_limit() -> Iterator[None]:
    """Each test starts with CPython's recursion limit (see lucid.runtime.pyecc): a test that
    imported web3 / eth-account raised it for the rest of the run."""
    reset_recursion_limit()
    yield


@pytest.fixture
async def bus_address(tmp_path: Path) -> AsyncIterator[str]:
    proc, address = await start_private_bus(tmp_path / "bus")
    yield address
    proc.terminate()
    await proc.wait()


@pytest.fixture
async def bus(bus_address: str) -> AsyncIterator[MessageBus]:
    conn = await connect(bus_address)
    yield conn
    conn.disconnect()


class LucidEnv:
    """State dirs, a config file and environment for daemons under test."""

    def __init__(self, root: Path, bus_address: str) -> None:
        self.root = root
        self.state = root / "state"
        # RAM-backed like /run/lucid/spool on the device (removed by the fixture).
        self.spool = Path(tempfile.mkdtemp(prefix="lucid-test-", dir="/dev/shm")) / "spool"
        self.config = root / "lucid.toml"
        self.bus_address = bus_address
        # Pipeline tests record without gatekeeper; gate tests set this back to true.
        self.overrides: dict[str, str] = {"LUCID__RECORDER__REQUIRE_GRANT": "false"}
        self.sets: list[DaemonSet] = []

    def set(self, section: str, key: str, value: str) -> None:
        self.overrides[f"LUCID__{section.upper()}__{key.upper()}"] = value

    def env(self) -> dict[str, str]:
        self.config.write_text(f'[paths]\nstate_dir = "{self.state}"\nspool_dir = "{self.spool}"\n')
        return {"LUCID_BUS": self.bus_address, "LUCID_CONFIG": str(self.config)} | self.overrides

    async def start(self, *names: str, restart: bool = True) -> DaemonSet:
        ds = DaemonSet(list(names), self.root / "run", self.env(), restart=restart)
        self.sets.append(ds)
        await ds.start_all()
        return ds


@pytest.fixture
async def lucid(tmp_path: Path, bus_address: str) -> AsyncIterator[LucidEnv]:
    env = LucidEnv(tmp_path, bus_address)
    yield env
    for ds in env.sets:
        await ds.close()
    shutil.rmtree(env.spool.parent, ignore_errors=True)


async def wait_for(predicate: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    """Poll ``predicate`` (sync or async) until truthy; fail the test after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.1)


@pytest.fixture
def small_fs() -> Iterator[Callable[[Path, str], Path]]:
    """Mount a size-limited tmpfs at a path (root only): a disk that fills up for real."""
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
        )
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)
