"""gatekeeper wiring: config -> db -> audit stream -> domain -> service; the expiry timer."""

from __future__ import annotations

import time

from lucid.evidence.approvals import default_policy
from lucid.gatekeeper.audit import AuditLog
from lucid.gatekeeper.audit_journal import AuditJournal
from lucid.gatekeeper.boot import appliance_boot
from lucid.gatekeeper.gate import Gatekeeper
from lucid.gatekeeper.schema import MIGRATIONS
from lucid.gatekeeper.service import GatekeeperService
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime, warn_if_not_ram
from lucid.runtime.db import open_db
from lucid.runtime.errors import LucidError
from lucid.walletd.client import WalletdClient


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    gk = cfg.gatekeeper
    state = cfg.paths.daemon_state("gatekeeper")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    cfg.paths.spool_dir.mkdir(parents=True, exist_ok=True)
    warn_if_not_ram(rt)
    db = await open_db(state / "gatekeeper.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    journal = AuditJournal(state / "audit-sessions")
    audit = AuditLog(cfg.paths.spool_dir, time.time, gk.audit_rotate_s, gk.audit_segment_s, journal)
    for name in audit.recover():
        rt.log.warning("ended audit session %s left open by a crash (sealed incomplete)", name)
    service: GatekeeperService | None = None

    def emit(member: str, *args: str) -> None:
        if service is not None:
            service.emit(member, *args)

    walletd = WalletdClient(rt.bus, cfg.bus.max_calls_in_flight, cfg.bus.call_timeout_s)
    device: list[bytes] = []

    async def device_key() -> bytes:
        """walletd's identity key, asked once (approvals name it; it does not change)."""
        if not device:
            device.append(bytes.fromhex((await walletd.get_identity())["ed25519"]))
        return device[0]

    gate = Gatekeeper(db, state, audit, emit, time.time, gk.rp_name, device_key=device_key)
    rt.stack.callback(gate.close)  # runs before db.close: the audit session ends last
    # requests of an earlier boot (their requesters are gone) expire now
    code = await gate.start(default_policy(gk.rp_id, gk.origins), await appliance_boot(rt.bus))
    if code is not None:  # the code itself never goes to a log: logs are for more eyes
        rt.log.warning(
            "no owner yet: register the first passkey with the setup code in %s",
            state / "setup-code",
        )
    service = GatekeeperService(rt.bus, gate)
    rt.spawn(_timer(rt, gate), "timer")
    return service


async def _timer(rt: Runtime, gate: Gatekeeper) -> None:
    while not await rt.sleep(rt.config.gatekeeper.tick_s):
        try:
            await gate.tick()
        except LucidError as err:  # e.g. the spool is full: keep expiring on the next tick
            rt.log.error("timer: %s", err)
