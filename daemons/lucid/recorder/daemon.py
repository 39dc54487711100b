"""recorder wiring: config -> db -> session manager (resumes interrupted sessions) -> service."""

from __future__ import annotations

from typing import Any

from lucid.gatekeeper.client import GatekeeperClient
from lucid.recorder.encoder import EncoderSettings
from lucid.recorder.gate import Gate, GatekeeperGate, UngatedRecording
from lucid.recorder.service import RecorderService
from lucid.recorder.sessions import MIGRATIONS, SessionManager
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime, warn_if_not_ram
from lucid.runtime.db import open_db

MARKER_RETRY_S = 2.0  # retry end markers that a full spool kept out


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    state = cfg.paths.daemon_state("recorder")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    cfg.paths.spool_dir.mkdir(parents=True, exist_ok=True)
    warn_if_not_ram(rt)
    db = await open_db(state / "recorder.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    settings = EncoderSettings(
        codecs=cfg.recorder.codecs,
        fps=cfg.recorder.fps,
        preset=cfg.recorder.preset,
        crf=cfg.recorder.crf,
        fragment_seconds=cfg.recorder.segment_seconds,
    )
    service = RecorderService(rt.bus)
    gate: Gate
    if cfg.recorder.require_grant:
        gatekeeper = GatekeeperClient(rt.bus, cfg.bus.max_calls_in_flight, cfg.bus.call_timeout_s)
        gate = GatekeeperGate(gatekeeper)
    else:
        rt.log.warning("recorder.require_grant = false: sessions are recorded without approval")
        gate = UngatedRecording()
    manager = SessionManager(db, cfg.paths.spool_dir, settings, service.events(), gate)
    if cfg.recorder.require_grant:

        def on_grant_ended(args: list[Any]) -> None:
            session, reason = str(args[0]), str(args[1])
            rt.spawn(manager.end_by_grant(session, reason), f"grant-ended:{session}")

        await gatekeeper.on_signal("GrantEnded", on_grant_ended)
    service.manager = manager
    rt.stack.push_async_callback(manager.close)
    rt.spawn(manager.resume(), "resume")
    rt.spawn(_markers(rt, manager), "end-markers")
    return service


async def _markers(rt: Runtime, manager: SessionManager) -> None:
    while not await rt.sleep(MARKER_RETRY_S):
        await manager.ensure_end_markers()
