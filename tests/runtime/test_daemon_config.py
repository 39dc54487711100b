"""lucid.runtime.daemon_config: a daemon's state directory and database, its bus call limits."""

from __future__ import annotations

import sqlite3
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from lucid.runtime.config import BusConfig, Config, PathsConfig
from lucid.runtime.daemon_config import call_limits, open_state

MIGRATIONS = ["CREATE TABLE t (x INTEGER);"]


async def test_open_state_makes_a_private_dir_and_a_migrated_db(tmp_path: Path) -> None:
    paths = PathsConfig(state_dir=tmp_path / "state", spool_dir=tmp_path / "spool")
    async with AsyncExitStack() as stack:
        state = await open_state(paths, "some_daemon", MIGRATIONS, stack)
        assert state.dir == tmp_path / "state" / "some_daemon"
        assert state.dir.stat().st_mode & 0o777 == 0o700
        await state.db.execute("INSERT INTO t VALUES (1)")
        async with state.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == 1
    assert (state.dir / "some_daemon.db").is_file()
    with pytest.raises(ValueError):  # the stack closed it
        await state.db.execute("SELECT 1")
    with sqlite3.connect(state.dir / "some_daemon.db") as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_call_limits_come_from_the_bus_section() -> None:
    config = Config(bus=BusConfig(max_calls_in_flight=7, call_timeout_s=2.5))
    assert call_limits(config) == (7, 2.5)
