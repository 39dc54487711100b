"""The device audit stream is sealed and exported like any session (real pipeline daemons)."""

from __future__ import annotations

import json
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.evidence.bundle import open_bundle
from lucid.evidence.keyfile import RecipientKey
from lucid.evidence.playback import decrypt_stream
from lucid.evidence.verify import verify_bundle
from lucid.gatekeeper.client import GatekeeperClient
from lucid.merkle.client import MerkleClient
from tests.conftest import LucidEnv, wait_for
from tests.gatekeeper.conftest import approve, owner, request, set_policy


async def test_decisions_are_sealed_as_a_gatekeeper_session(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient, tmp_path: Path
) -> None:
    auditor = RecipientKey.generate()
    gatekeeper_env.set("walletd", "recipients", auditor.public.hex())
    ds = await gatekeeper_env.start("walletd", "chunker", "encryptor", "merkle", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = await owner(gk, gatekeeper_env)
    await set_policy(admin_ui, approval_window_s=0)
    await request(gk, "s1")
    await approve(gk, "s1", "alice", key)
    await gk.revoke("s1", "", "done early")
    await request(gk, "s2")
    await gk.deny("s2", "", "no")
    await ds.stop("gatekeeper")  # SIGTERM: the audit session ends and is handed on
    await ds.start("gatekeeper")

    merkle = MerkleClient(bus)

    async def sealed() -> list[str]:
        return [
            s["session"]
            for s in await merkle.list_sessions()
            if s["session"].startswith("gatekeeper-") and s["state"] == "sealed"
        ]

    await wait_for(sealed, 120, "a sealed gatekeeper session")
    (session,) = await sealed()
    out = tmp_path / "audit.lucid"
    with out.open("wb") as fh:
        await merkle.export_bundle(session, fh.fileno())
    report = verify_bundle(out)
    assert report.chunk_count >= 1
    with open_bundle(out) as bundle:
        assert bundle.manifest.complete
        assert [s.name for s in bundle.manifest.streams] == ["audit.0"]
        text = b"".join(decrypt_stream(bundle, auditor, "audit.0")).decode()
    events = [json.loads(line) for line in text.splitlines()]
    kinds = [e["type"] for e in events]
    for expected in (
        "policy.set",
        "account.registered",
        "request.filed",
        "approval",
        "request.approved",
        "grant.revoked",
        "request.denied",
    ):
        assert expected in kinds, f"{expected} missing from {kinds}"
    approved = next(e for e in events if e["type"] == "request.approved")
    assert approved["session"] == "s1" and approved["grant"]["scope"]["ttl_s"] == 600
    assert all(e["t"].endswith("Z") for e in events)
    assert not (gatekeeper_env.spool / session).exists(), "plaintext left in the spool"
