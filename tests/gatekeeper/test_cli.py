"""``lucid admin enroll`` and ``lucid sessions pending|approve|deny|revoke`` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.gatekeeper.client import GatekeeperClient
from tests.conftest import LucidEnv
from tests.gatekeeper.conftest import request, setup_code


async def _lucid(env: LucidEnv, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lucid.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ) | {"LUCID_BUS": env.bus_address},
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_enroll_approve_deny_revoke(
    gatekeeper_env: LucidEnv, bus: MessageBus, tmp_path: Path
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = tmp_path / "alice.passkey"
    code = setup_code(gatekeeper_env)
    status, out, err = await _lucid(
        gatekeeper_env, "admin", "enroll", "alice", "--passkey", str(key), "--code", "nope"
    )
    assert status == 1 and err.count("\n") == 1 and "enrollment code" in err
    assert not key.exists()
    enroll = ("admin", "enroll", "alice", "--passkey", str(key), "--code", code, "--alg", "Ed25519")
    status, out, err = await _lucid(gatekeeper_env, *enroll)
    assert status == 0, err
    assert key.stat().st_mode & 0o077 == 0
    status, _, err = await _lucid(gatekeeper_env, *enroll)
    assert status == 1 and "already exists" in err

    await request(gk, "s1")
    await request(gk, "s2")
    status, out, _ = await _lucid(gatekeeper_env, "sessions", "pending")
    assert status == 0 and "s1" in out and "s2" in out
    status, out, err = await _lucid(
        gatekeeper_env,
        "sessions",
        "approve",
        "s1",
        "--passkey",
        str(key),
        "--no-clipboard",
        "--ttl",
        "120",
    )
    assert (status, out.strip()) == (0, "s1 approved"), err
    scope = json.loads((await gk.get_grant("s1"))["scope"])
    assert scope["clipboard"] is False and scope["ttl_s"] == 120
    status, _, _ = await _lucid(gatekeeper_env, "sessions", "revoke", "s1", "--reason", "done")
    assert status == 0 and (await gk.get_grant("s1"))["state"] == "revoked"
    status, _, _ = await _lucid(gatekeeper_env, "sessions", "deny", "s2")
    assert status == 0 and (await gk.get_grant("s2"))["state"] == "denied"
    status, _, err = await _lucid(gatekeeper_env, "sessions", "deny", "s2")
    assert status == 1 and err.count("\n") == 1 and "not pending" in err
    status, out, _ = await _lucid(gatekeeper_env, "sessions", "pending")
    assert out.strip() == "no pending requests"
    # Plain `lucid sessions` still lists recordings (no recorder here: a one-line error).
    status, _, err = await _lucid(gatekeeper_env, "sessions")
    assert status == 1 and err.count("\n") == 1 and "Traceback" not in err
