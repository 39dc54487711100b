"""Daemons as real processes: READY=1, clean SIGTERM, restart after a crash."""

from __future__ import annotations

import signal

from tests.conftest import LucidEnv


async def test_sigterm_is_a_clean_exit(lucid: LucidEnv) -> None:
    ds = await lucid.start("walletd", "chunker", "encryptor", "merkle")
    statuses = await ds.close()
    assert statuses == {"merkle": 0, "encryptor": 0, "chunker": 0, "walletd": 0}
    for name in statuses:
        log = ds.log_path(name).read_text()
        assert "ready on io.lucid." in log and "stopping" in log
        assert "Traceback" not in log


async def test_crashed_daemon_is_restarted(lucid: LucidEnv) -> None:
    ds = await lucid.start("walletd")
    first = ds.pid("walletd")
    await ds.kill("walletd", signal.SIGKILL, restart=True)
    await ds.wait_ready("walletd")
    assert ds.pid("walletd") != first
    assert ds.children["walletd"].restarts == 1


async def test_bad_config_exits_with_one_line(lucid: LucidEnv) -> None:
    import asyncio
    import os
    import sys

    env = os.environ | lucid.env() | {"LUCID__CHUNKER__CHUNK_BYTES": "lots"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lucid.chunker",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "chunker.chunk_bytes" in lines[0]
