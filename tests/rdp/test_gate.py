"""The gate with real logins: independent waits, deny, timeout, revoke, alternate shell."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from lucid.merkle.client import MerkleClient, SealInfo
from lucid.rdp_gate.client import GateSessionInfo
from lucid.recorder.client import RecorderClient, RecordingInfo
from lucid.runtime.contracts import RDP_GATE
from lucid.runtime.errors import NotAuthorizedError
from tests.conftest import wait_for
from tests.rdp.conftest import TIMEOUT, RdpClient, RdpHost, RdpUser, policy, settle

pytestmark = pytest.mark.rdp


async def _ends(host: RdpHost, session: str, outcome: str, client: RdpClient) -> None:
    """The session ended with ``outcome``: its X server is gone and the client was cut."""
    info = await host.wait_state(session, "ended")
    assert info["outcome"] == outcome, f"{info}\n{host.logs()}"
    await wait_for(lambda: not Path(f"/proc/{info['x_pid']}").exists(), TIMEOUT, "X server exit")
    await wait_for(lambda: client.proc.poll() is not None, TIMEOUT, "the client disconnected")


async def test_second_user_is_approved_while_the_first_still_waits(
    rdp_host: RdpHost, rdp_users: list[RdpUser]
) -> None:
    host = rdp_host
    first, second = rdp_users
    first_client = host.connect(first)
    host.connect(second)
    waiting_first = await host.session_of(first, "waiting")
    waiting_second = await host.session_of(second, "waiting")
    assert waiting_first["display"] != waiting_second["display"]

    assert await host.approve(waiting_second["session"]) == "approved"
    await host.wait_state(waiting_second["session"], "running")
    await wait_for(lambda: host.desktop_pids(second), TIMEOUT, "the second user's desktop")
    # the first is still held, untouched by the other's approval
    await settle(1)
    assert (await host.state(waiting_first["session"]))["state"] == "waiting"
    assert host.desktop_pids(first) == []
    request = json.loads(await host.gatekeeper.get_request(waiting_first["session"]))
    assert request["state"] == "pending"

    # ... and a denial ends only the first one's connection, after saying so on its screen
    await host.gatekeeper.deny(waiting_first["session"], "", "not today")
    closing = await host.wait_state(waiting_first["session"], "closing")
    assert closing["outcome"] == "denied" and closing["message"] == "not today"
    assert "Lucid: waiting for approval" in host.window_names(first, closing["display"])
    await _ends(host, waiting_first["session"], "denied", first_client)
    assert (await host.state(waiting_second["session"]))["state"] == "running"
    assert host.desktop_pids(first) == []


async def test_timeout_ends_the_connection(rdp_host: RdpHost, rdp_users: list[RdpUser]) -> None:
    host, user = rdp_host, rdp_users[0]
    await policy(host, request_timeout_s=3)
    client = host.connect(user)
    waiting = await host.session_of(user, "waiting")
    await _ends(host, waiting["session"], "expired", client)
    assert host.desktop_pids(user) == []
    request = json.loads(await host.gatekeeper.get_request(waiting["session"]))
    assert request["state"] == "expired"


async def test_revoke_cuts_a_running_session_and_it_seals(
    rdp_host: RdpHost, rdp_users: list[RdpUser]
) -> None:
    host, user = rdp_host, rdp_users[0]
    client = host.connect(user)
    session = (await host.session_of(user, "waiting"))["session"]
    await host.approve(session)
    await host.wait_state(session, "running")
    await wait_for(lambda: host.desktop_pids(user), TIMEOUT, "the desktop")
    await settle(1)

    await host.gatekeeper.revoke(session, "", "enough")
    await _ends(host, session, "revoked", client)
    assert host.desktop_pids(user) == []
    info = await RecorderClient(host.bus).get_session(session)
    assert info["state"] == "ended", info
    merkle = MerkleClient(host.bus)

    async def sealed() -> dict[str, str] | None:
        for s in await merkle.list_sessions():
            if s["session"] == session and s["state"] == "sealed":
                return s
        return None

    await wait_for(sealed, TIMEOUT, f"{session} sealed")
    # each daemon's session payload has exactly its client's TypedDict keys
    assert set(info) == RecordingInfo.__required_keys__
    assert set(await merkle.get_session(session)) == SealInfo.__required_keys__
    assert set(await host.state(session)) == GateSessionInfo.__required_keys__


async def test_alternate_shell_from_the_client_never_runs(
    rdp_host: RdpHost, rdp_users: list[RdpUser]
) -> None:
    host, user = rdp_host, rdp_users[0]
    marker = Path(f"/tmp/lucid-shell-{secrets.token_hex(4)}")
    host.connect(user, f"/shell:touch {marker}", "/shell-dir:/tmp")
    waiting = await host.session_of(user, "waiting")
    await settle(2)
    assert not marker.exists(), "the client's alternate shell ran"
    sesman = host.stack.sesman_log.read_text()
    assert "Starting the default window manager" in sesman
    assert "user requested window manager" not in sesman
    assert "Lucid: waiting for approval" in host.window_names(user, waiting["display"])


async def test_wait_outside_a_session_is_refused(rdp_host: RdpHost) -> None:
    # the test process runs as root, outside any xrdp session
    with pytest.raises(NotAuthorizedError):
        await rdp_host.gate.wait()
    with pytest.raises(NotAuthorizedError):
        await rdp_host.gate.end()
    # the live object is the XML
    node = await rdp_host.bus.introspect(RDP_GATE.bus_name, RDP_GATE.path)
    iface = next(i for i in node.interfaces if i.name == RDP_GATE.interface)
    assert {m.name: (m.in_signature, m.out_signature) for m in iface.methods} == {
        n: (m.in_signature, m.out_signature) for n, m in RDP_GATE.methods.items()
    }
    info = await rdp_host.gate.get_connection_info()
    assert info["port"] == str(rdp_host.port)
    assert len(info["fingerprint_sha256"].split(":")) == 32  # SHA-256, as clients show it


async def test_a_restarted_gate_still_guards_running_sessions(
    rdp_host: RdpHost, rdp_users: list[RdpUser]
) -> None:
    host, user = rdp_host, rdp_users[0]
    client = host.connect(user)
    session = (await host.session_of(user, "waiting"))["session"]
    await host.approve(session)
    await host.wait_state(session, "running")
    await wait_for(lambda: host.desktop_pids(user), TIMEOUT, "the desktop")
    await host.daemons.stop("rdp_gate")
    await host.daemons.start("rdp_gate")
    assert (await host.state(session))["state"] == "running"
    assert host.desktop_pids(user), "the restart ended the approved session"
    await host.gatekeeper.revoke(session, "", "after the restart")
    await _ends(host, session, "revoked", client)
