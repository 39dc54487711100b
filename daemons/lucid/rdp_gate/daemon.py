"""rdp_gate wiring: config -> db -> gate -> sesman proxy -> service; the check loop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from lucid.gatekeeper.client import GatekeeperClient
from lucid.rdp_gate.gate import RdpGate
from lucid.rdp_gate.scp import ScpProxy
from lucid.rdp_gate.service import RdpGateService, name_owner_user
from lucid.rdp_gate.session import GateSettings
from lucid.rdp_gate.session_db import MIGRATIONS
from lucid.rdp_gate.tls import ensure_certificate
from lucid.recorder.client import RecorderClient
from lucid.runtime.bus import ContractService
from lucid.runtime.contracts import RECORDER
from lucid.runtime.daemon import Runtime
from lucid.runtime.db import open_db
from lucid.runtime.errors import LucidError, UnavailableError


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    rg = cfg.rdp_gate
    state = cfg.paths.daemon_state("rdp_gate")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    device = rg.device_name or socket.gethostname()
    certificate = ensure_certificate(state / "tls", device)
    db = await open_db(state / "rdp_gate.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    calls = (cfg.bus.max_calls_in_flight, cfg.bus.call_timeout_s)
    gatekeeper = GatekeeperClient(rt.bus, *calls)
    recorder = RecorderClient(rt.bus, *calls)
    settings = GateSettings(
        device_name=device,
        scope={
            "ttl_s": rg.ttl_s,
            "max_duration_s": rg.max_duration_s,
            "clipboard": rg.clipboard,
            "file_transfer": rg.file_transfer,
            "drives": rg.drives,
        },
        wait_reply_s=rg.wait_reply_s,
        outcome_show_s=rg.outcome_show_s,
    )
    service: RdpGateService | None = None

    def on_change(session: str, state: str) -> None:
        if service is not None:
            service.emit("SessionChanged", session, state)

    async def recorder_user() -> str:
        try:
            return await name_owner_user(rt.bus, RECORDER.bus_name)
        except Exception as err:
            raise UnavailableError(f"the recorder is not on the bus: {err}") from err

    gate = RdpGate(db, gatekeeper, recorder, settings, recorder_user, rt.stopping, on_change)
    await gate.start()
    rt.stack.push_async_callback(gate.close)
    proxy = ScpProxy(rg.sesman_port, gate.on_login)
    try:
        await proxy.start(rg.scp_port)
    except OSError as err:
        raise UnavailableError(f"cannot listen for xrdp on port {rg.scp_port}: {err}") from err
    rt.stack.push_async_callback(proxy.close)

    wake = asyncio.Event()

    def hint(_args: list[Any]) -> None:
        wake.set()

    await gatekeeper.on_signal("RequestDecided", hint)
    await gatekeeper.on_signal("GrantEnded", hint)

    def connection_info() -> dict[str, str]:
        return {
            "port": str(rg.rdp_port),
            "certificate": str(certificate.cert),
            "fingerprint_sha256": certificate.fingerprint,
        }

    service = RdpGateService(rt.bus, gate, connection_info)
    rt.spawn(_checks(rt, gate, wake), "checks")
    return service


async def _checks(rt: Runtime, gate: RdpGate, wake: asyncio.Event) -> None:
    while not rt.stopping.is_set():
        try:
            await gate.tick()
        except LucidError as err:  # e.g. the database is busy: try again on the next round
            rt.log.error("checks: %s", err)
        await rt.pause(wake, rt.config.rdp_gate.poll_s)
