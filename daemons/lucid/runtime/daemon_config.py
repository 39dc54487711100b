"""What a daemon's ``build`` reads from the shared config sections (``[paths]``, ``[bus]``).

`open_state` gives the daemon its state directory and its database; `call_limits` gives the
limits every bus client it builds takes. The daemon's own section (``[chain_client]``,
``[tron_node]``, ...) is checked by the daemon itself: this module knows no daemon.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from lucid.runtime.config import Config, PathsConfig
from lucid.runtime.db import open_db


@dataclass(frozen=True)
class DaemonState:
    """A daemon's state directory and its open database (closed with the runtime)."""

    dir: Path
    db: aiosqlite.Connection


async def open_state(
    paths: PathsConfig, daemon: str, migrations: Sequence[str], stack: AsyncExitStack
) -> DaemonState:
    """Create ``paths.state_dir/<daemon>`` (mode 0700) and open ``<daemon>.db`` in it.

    The database is migrated (`lucid.runtime.db.open_db`) and closed when ``stack`` (the
    daemon's ``Runtime.stack``) unwinds.

    Raises:
        OSError: the directory cannot be created.
        DatabaseError: the database cannot be opened or migrated.
    """
    state = paths.daemon_state(daemon)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = await open_db(state / f"{daemon}.db", migrations)
    stack.push_async_callback(db.close)
    return DaemonState(state, db)


def call_limits(config: Config) -> tuple[int, float]:
    """``(bus.max_calls_in_flight, bus.call_timeout_s)``: what each bus client takes."""
    return config.bus.max_calls_in_flight, config.bus.call_timeout_s
