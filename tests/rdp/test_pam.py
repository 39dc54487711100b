"""The SSH side of the gate, through PAM itself: pamtester runs the account phase, whose
pam_exec line is lucid-pam-gate; it must wait for gatekeeper's decision and follow it."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from dbus_fast.aio import MessageBus

from lucid.gatekeeper.client import GatekeeperClient
from tests.conftest import LucidEnv, wait_for
from tests.gatekeeper.conftest import approve, owner

pytestmark = pytest.mark.rdp


@pytest.fixture
def pam_service(bus_address: str) -> Iterator[str]:
    if shutil.which("pamtester") is None:
        pytest.fail("pamtester is not installed: run `make setup`")
    name = f"lucid-test-{secrets.token_hex(3)}"
    path = Path("/etc/pam.d") / name
    path.write_text(
        "auth     required pam_permit.so\n"
        f"account  required pam_exec.so stdout {sys.executable} -m lucid.rdp_gate.pam_gate"
        f" --bus {bus_address} --timeout 60\n"
    )
    try:
        yield name
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture
async def gatekeeper(lucid: LucidEnv, bus: MessageBus) -> AsyncIterator[GatekeeperClient]:
    lucid.set("gatekeeper", "tick_s", "0.2")
    await lucid.start("walletd", "gatekeeper")
    yield GatekeeperClient(bus)


async def _login(service: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "pamtester",
        service,
        "nobody",
        "acct_mgmt",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _pending(gatekeeper: GatekeeperClient) -> dict[str, object]:
    found: dict[str, object] = {}

    async def filed() -> bool:
        for r in json.loads(await gatekeeper.list_requests("pending")):
            if r["request"]["user"] == "nobody":
                found.update(r)
                return True
        return False

    await wait_for(filed, 60, "the PAM login's request")
    return found


@pytest.mark.parametrize("decision", ["approve", "deny"])
async def test_pam_login_waits_and_follows_the_decision(
    lucid: LucidEnv, gatekeeper: GatekeeperClient, pam_service: str, decision: str
) -> None:
    key = await owner(gatekeeper, lucid)
    proc = await _login(pam_service)
    request = await _pending(gatekeeper)
    await asyncio.sleep(1)
    assert proc.returncode is None, "the login went on before a decision"
    session = str(request["id"])
    if decision == "approve":
        assert await approve(gatekeeper, session, "alice", key) == "approved"
    else:
        await gatekeeper.deny(session, "", "no")
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert session in text, text
    if decision == "approve":
        assert proc.returncode == 0, text
    else:
        assert proc.returncode != 0, text
