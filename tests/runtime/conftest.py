"""Fixtures of the caller tests: a directory other users can reach, and a lax bus in it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lucid.runtime.supervisor import PERMISSIVE_BUS_CONFIG
from tests.runtime.probes import bus_in


@pytest.fixture
def open_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lucid-callers-"))
    os.chmod(path, 0o755)  # nobody reaches the bus socket in here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def lax_bus(open_dir: Path) -> AsyncIterator[str]:
    """A bus that lets anyone own and call anything: what is refused is the daemon's doing."""
    async for address in bus_in(open_dir, config=PERMISSIVE_BUS_CONFIG):
        yield address
