"""Requests of an earlier boot of the appliance expire at startup ("appliance restarted");
a restart of gatekeeper alone (same bus, same boot) keeps them live."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.bus import connect
from lucid.runtime.errors import ConflictError
from lucid.runtime.supervisor import start_private_bus
from tests.conftest import LucidEnv
from tests.gatekeeper.conftest import _named, approve, owner, request


async def _state(gk: GatekeeperClient, session: str) -> tuple[str, str]:
    data = json.loads(await gk.get_request(session))
    return data["state"], data["reason"]


async def test_a_new_boot_expires_what_cannot_happen_any_more(
    gatekeeper_env: LucidEnv, bus_address: str, tmp_path: Path
) -> None:
    # boot 1: a pending request, an approved grant never started, an active one, one denied
    first = await gatekeeper_env.start("walletd", "gatekeeper")
    bus = await connect(bus_address)
    recorder = await _named(bus_address, "io.lucid.Recorder1")
    try:
        gk = GatekeeperClient(bus)
        key = await owner(gk, gatekeeper_env)
        for session in ("waiting", "approved", "recording", "denied"):
            await request(gk, session)
        await approve(gk, "approved", "alice", key)
        await approve(gk, "recording", "alice", key)
        await GatekeeperClient(recorder).mark_active("recording")
        await approve(gk, "denied", "alice", key, decision="deny")

        # gatekeeper alone restarts (a crash, the restart window): the same boot, all live
        await first.stop("gatekeeper")
        await first.start("gatekeeper")
        assert await _state(gk, "waiting") == ("pending", "")
        assert (await _state(gk, "approved"))[0] == "approved"
        await first.stop("gatekeeper")
    finally:
        bus.disconnect()
        recorder.disconnect()

    # boot 2: the appliance starts again (a new bus), over the same state
    proc, address = await start_private_bus(tmp_path / "bus2")
    second = LucidEnv(gatekeeper_env.root, address)
    second.overrides = dict(gatekeeper_env.overrides)
    try:
        await second.start("gatekeeper")
        bus2 = await connect(address)
        try:
            gk2 = GatekeeperClient(bus2)
            assert await _state(gk2, "waiting") == ("expired", "appliance restarted")
            assert await _state(gk2, "approved") == ("expired", "appliance restarted")
            assert (await _state(gk2, "recording"))[0] == "active"  # the recorder's to end
            assert (await _state(gk2, "denied"))[0] == "denied"
            assert json.loads(await gk2.list_requests("pending")) == []
            # a request filed in this boot survives the next gatekeeper restart
            await request(gk2, "fresh")
            await second.sets[0].stop("gatekeeper")
            await second.sets[0].start("gatekeeper")
            assert await _state(gk2, "fresh") == ("pending", "")
            # and the expired one cannot be approved any more
            admin = await _named(address, "io.lucid.AdminUi1")
            try:
                with pytest.raises(ConflictError, match="is expired, not pending"):
                    await GatekeeperClient(admin).begin_approval("waiting", "alice", "approve", "")
            finally:
                admin.disconnect()
        finally:
            bus2.disconnect()
    finally:
        for ds in second.sets:
            await ds.close()
        shutil.rmtree(second.spool.parent, ignore_errors=True)
        proc.terminate()
        await proc.wait()
