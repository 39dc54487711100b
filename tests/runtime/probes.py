"""What the caller tests share: buses other users can reach, and calls made as another user.

``probe`` runs caller_probe.py as a given uid (asynchronously: the services under test answer
on the test's own loop); ``spec`` names one method call for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lucid.runtime.contracts import Contract
from lucid.runtime.supervisor import start_private_bus

PROBE = Path(__file__).with_name("caller_probe.py")
REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def spec(contract: Contract, member: str, destination: str = "") -> dict[str, str]:
    """A call of ``member`` of ``contract``, sent to ``destination`` (default: its name)."""
    return {
        "destination": destination or contract.bus_name,
        "path": contract.path,
        "interface": contract.interface,
        "member": member,
        "signature": contract.methods[member].in_signature,
    }


async def bus_in(directory: Path, **kwargs: Any) -> AsyncIterator[str]:
    """A private bus listening in ``directory`` (start_private_bus's keywords) until closed."""
    proc, address = await start_private_bus(directory / "bus", **kwargs)
    yield address
    proc.terminate()
    await proc.wait()


async def probe(
    address: str, uid: int, calls: list[dict[str, str]], own: str = ""
) -> dict[str, Any]:
    """caller_probe.py's outcome for ``calls`` made as ``uid`` (owning ``own`` first)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROBE),
        address,
        str(uid),
        json.dumps(calls),
        *(["--own", own] if own else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    outcome: dict[str, Any] = json.loads(stdout)
    return outcome
