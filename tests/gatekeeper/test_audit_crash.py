"""gatekeeper's audit sessions survive kill -9 and power cuts: each ends, is sealed and signed.

The first tests drive `AuditLog` on a fake clock (what recovery leaves in the spool); the last
two run the real pipeline daemons: kill -9 of gatekeeper after the chunker consumed its
segments, and a power cut (every daemon killed, the RAM spool dropped).
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.encryptor.client import EncryptorClient
from lucid.evidence.bundle import open_bundle
from lucid.evidence.keyfile import RecipientKey
from lucid.evidence.playback import decrypt_stream
from lucid.evidence.verify import verify_bundle
from lucid.gatekeeper.audit import INTERRUPTED, STREAM, AuditLog
from lucid.gatekeeper.audit_journal import AuditJournal
from lucid.gatekeeper.client import GatekeeperClient
from lucid.merkle.client import MerkleClient
from lucid.runtime import spool
from tests.conftest import LucidEnv, wait_for
from tests.gatekeeper.conftest import owner, request
from tests.gatekeeper.test_audit import FakeClock, _lines

AUDIT_SET = ("walletd", "chunker", "encryptor", "merkle", "gatekeeper")


def _log(tmp_path: Path, clock: FakeClock) -> AuditLog:
    journal = AuditJournal(tmp_path / "state" / "audit-sessions")
    log = AuditLog(tmp_path / "spool", clock, rotate_s=3600, segment_s=1, journal=journal)
    log.recover()  # as the daemon does at start
    return log


def _interrupted(session_dir: Path, stream: str = "audit.1") -> None:
    assert [e["type"] for e in _lines(session_dir / stream)] == [INTERRUPTED]
    assert spool.read_int(session_dir / stream / spool.STREAM_END) == 0
    assert spool.read_session_info(session_dir)["complete"] == "false"
    assert (session_dir / spool.SESSION_END).exists()


def test_a_session_whose_segments_the_chunker_consumed_is_ended(tmp_path: Path) -> None:
    clock = FakeClock()
    crashed = _log(tmp_path, clock)
    crashed.write("request.filed", session="s1")
    clock.advance(1)
    crashed.tick()  # seg 0 published
    name = crashed.session
    assert name is not None
    stream = tmp_path / "spool" / name / STREAM
    for path in spool.list_segments(stream).values():
        path.unlink()  # the chunker cut it into a chunk and consumed it
    restarted = _log(tmp_path, clock)  # kill -9: no close()
    assert (tmp_path / "spool" / name).exists()
    assert spool.read_int(stream / spool.STREAM_END) == -1
    _interrupted(tmp_path / "spool" / name)
    assert restarted.recover() == []


def test_a_power_cut_ends_every_session_the_pipeline_had_not_taken(tmp_path: Path) -> None:
    clock = FakeClock()
    log = _log(tmp_path, clock)
    log.write("request.filed", session="taken")
    log.rotate()
    taken = sorted(p.name for p in spool.sessions(tmp_path / "spool"))
    shutil.rmtree(tmp_path / "spool" / taken[0])  # the encryptor completed it
    clock.advance(1)
    log.tick()  # ... and gatekeeper forgets it
    log.write("request.filed", session="ended")
    log.rotate()  # session.end written, but the pipeline never saw it
    clock.advance(1)
    log.write("request.filed", session="open")
    clock.advance(1)
    log.tick()
    sessions = sorted(p.name for p in spool.sessions(tmp_path / "spool"))
    assert len(sessions) == 2
    shutil.rmtree(tmp_path / "spool")  # power cut: RAM gone
    restarted = AuditLog(
        tmp_path / "spool",
        clock,
        rotate_s=3600,
        segment_s=1,
        journal=AuditJournal(tmp_path / "state" / "audit-sessions"),
    )
    assert sorted(restarted.recover()) == sessions
    for name in sessions:
        _interrupted(tmp_path / "spool" / name)
        assert not (tmp_path / "spool" / name / STREAM).exists()
    assert not (tmp_path / "spool" / taken[0]).exists()


def test_an_intact_spool_forgets_what_the_pipeline_took(tmp_path: Path) -> None:
    clock = FakeClock()
    log = _log(tmp_path, clock)
    log.write("request.filed", session="s1")
    name = log.session
    assert name is not None
    log.rotate()
    shutil.rmtree(tmp_path / "spool" / name)  # taken by the encryptor; gatekeeper killed
    journal = AuditJournal(tmp_path / "state" / "audit-sessions")
    assert list(journal.entries()) == [name]
    assert _log(tmp_path, clock).recover() == []
    assert journal.entries() == {}


def test_a_crash_during_recovery_never_reuses_a_stream(tmp_path: Path) -> None:
    clock = FakeClock()
    log = _log(tmp_path, clock)
    log.write("request.filed", session="s1")
    name = log.session
    assert name is not None
    shutil.rmtree(tmp_path / "spool")
    _log(tmp_path, clock)  # recovered into audit.1 ...
    shutil.rmtree(tmp_path / "spool")  # ... and lost again before the pipeline took it
    journal = AuditJournal(tmp_path / "state" / "audit-sessions")
    assert journal.entries()[name].streams == 2
    _log(tmp_path, clock)
    _interrupted(tmp_path / "spool" / name, "audit.2")


# -- the real daemons ---------------------------------------------------------------------


def _fast(lucid: LucidEnv, auditor: RecipientKey) -> None:
    lucid.set("walletd", "recipients", auditor.public.hex())
    lucid.set("gatekeeper", "tick_s", "0.1")
    lucid.set("gatekeeper", "audit_segment_s", "0.2")
    lucid.set("chunker", "flush_seconds", "0.3")


async def _decisions(gk: GatekeeperClient, lucid: LucidEnv, prefix: str) -> None:
    await owner(gk, lucid)
    await request(gk, f"{prefix}-1")
    await gk.deny(f"{prefix}-1", "", "no")


async def _gatekeeper_sessions(bus: MessageBus) -> list[str]:
    return [s for s, _ in await EncryptorClient(bus).list_sessions() if s.startswith("gatekeeper-")]


async def _sealed(
    bus: MessageBus, session: str, tmp_path: Path, auditor: RecipientKey
) -> list[str]:
    """Wait until merkle signed ``session``; verify its bundle; its event types."""
    merkle = MerkleClient(bus)

    async def signed() -> bool:
        states = {s["session"]: s["state"] for s in await merkle.list_sessions()}
        assert states.get(session) != "failed", await merkle.get_session(session)
        return states.get(session) == "sealed"

    await wait_for(signed, 120, f"{session} to be sealed")
    out = tmp_path / f"{session}.lucid"
    with out.open("wb") as fh:
        await merkle.export_bundle(session, fh.fileno())
    report = verify_bundle(out)
    with open_bundle(out) as bundle:
        assert not bundle.manifest.complete
        assert report.chunk_count == len(bundle.manifest.chunks)
        text = b"".join(
            b"".join(decrypt_stream(bundle, auditor, s.name)) for s in bundle.manifest.streams
        )
    return [json.loads(line)["type"] for line in text.decode().splitlines()]


async def test_kill9_of_gatekeeper_seals_its_audit_session_incomplete(
    lucid: LucidEnv, bus: MessageBus, tmp_path: Path
) -> None:
    auditor = RecipientKey.generate()
    _fast(lucid, auditor)
    ds = await lucid.start(*AUDIT_SET)
    gk = GatekeeperClient(bus)
    await _decisions(gk, lucid, "k9")

    async def consumed() -> str | None:
        # A chunk of it is sealed and the chunker has consumed every segment written so far.
        for session in await _gatekeeper_sessions(bus):
            stream = lucid.spool / session / STREAM
            if await EncryptorClient(bus).list_chunks(session) and not any(
                p.name.startswith("seg-") for p in stream.iterdir()
            ):
                return session
        return None

    await wait_for(consumed, 60, "a sealed chunk of gatekeeper's audit session")
    session = await consumed()
    assert session is not None
    await ds.kill("gatekeeper", signal.SIGKILL, restart=True)
    await ds.wait_ready("gatekeeper")
    kinds = await _sealed(bus, session, tmp_path, auditor)
    assert "request.denied" in kinds and kinds[-1] == INTERRUPTED
    assert not (lucid.spool / session).exists(), "plaintext left in the spool"


async def test_power_cut_every_gatekeeper_session_is_sealed(
    lucid: LucidEnv, bus: MessageBus, tmp_path: Path
) -> None:
    auditor = RecipientKey.generate()
    _fast(lucid, auditor)
    ds = await lucid.start(*AUDIT_SET, restart=False)
    gk = GatekeeperClient(bus)
    await _decisions(gk, lucid, "pc")

    async def some_sealed() -> bool:
        sessions = await _gatekeeper_sessions(bus)
        return bool(sessions) and bool(await EncryptorClient(bus).list_chunks(sessions[0]))

    await wait_for(some_sealed, 60, "a sealed chunk of gatekeeper's audit session")
    await request(gk, "pc-2")  # an event the cut may take with it
    for name in AUDIT_SET:
        await ds.kill(name, signal.SIGKILL)
    shutil.rmtree(lucid.spool)  # the RAM spool is gone
    before = await _gatekeeper_sessions_after_restart(lucid, bus)
    assert before, "no gatekeeper session reached the store before the cut"
    for session in before:
        kinds = await _sealed(bus, session, tmp_path, auditor)
        assert kinds[-1] == INTERRUPTED


async def _gatekeeper_sessions_after_restart(lucid: LucidEnv, bus: MessageBus) -> list[str]:
    await lucid.start(*AUDIT_SET)
    return await _gatekeeper_sessions(bus)
