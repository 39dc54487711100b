"""ManifestSealer: sealed chunks -> signed manifest + proofs, driven directly (no bus).

The sources are honest fakes: a real Ed25519 device key signs, the chunks are really
sealed with ``seal_chunk`` and the data key is really wrapped to a recipient.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import nacl.public
import nacl.signing
import pytest

from lucid.evidence.crypto import new_data_key, seal_chunk, wrap_key
from lucid.evidence.errors import VerificationError
from lucid.evidence.proofs import Proofs
from lucid.evidence.signed import SignedManifest
from lucid.evidence.tree import leaf_hash, verify_inclusion
from lucid.merkle.sealer import MIGRATIONS, ManifestSealer, SealError, Sources
from lucid.runtime.db import open_db

SESSION = "s1"
INFO = {
    "started_at": "2026-11-22T02:15:30.123Z",
    "ended_at": "2026-11-22T02:25:00.000Z",
    "encoder": "libx264",
    "encoder_settings": json.dumps({"preset": "superfast", "crf": "23"}),
    "complete": "true",
}
Row = tuple[str, int, str, int, int, str]


class FakeSources:
    """What recorder/encryptor/walletd would answer, with a call log."""

    def __init__(self) -> None:
        self.device = nacl.signing.SigningKey.generate()
        self.signer = self.device  # the key that actually signs (tests may swap it)
        self.x25519 = nacl.public.PrivateKey.generate().public_key.encode()
        self.auditor = nacl.public.PrivateKey.generate().public_key.encode()
        self.data_key = new_data_key()
        self.rows: dict[str, list[Row]] = {}
        self.calls: list[str] = []

    def add_chunks(self, stream: str, count: int, session: str = SESSION) -> None:
        for index in range(count):
            plain = f"{stream}#{index} ".encode() * 20
            sealed = seal_chunk(self.data_key, session, stream, index, plain)
            row = (stream, index, leaf_hash(sealed).hex(), len(sealed), len(plain), "none")
            self.rows.setdefault(session, []).append(row)

    async def session_info(self, session: str) -> dict[str, str]:
        self.calls.append("session_info")
        return dict(INFO)

    async def chunks(self, session: str) -> list[Row]:
        self.calls.append("chunks")
        return list(self.rows.get(session, []))

    async def recipients(self, session: str) -> list[tuple[str, str]]:
        self.calls.append("recipients")
        return [
            (pub.hex(), wrap_key(self.data_key, pub).hex()) for pub in (self.x25519, self.auditor)
        ]

    async def identity(self) -> dict[str, str]:
        self.calls.append("identity")
        return {"ed25519": self.device.verify_key.encode().hex(), "x25519": self.x25519.hex()}

    async def sign(self, message: bytes) -> bytes:
        self.calls.append("sign")
        return bytes(self.signer.sign(message).signature)

    def sources(self) -> Sources:
        return Sources(self.session_info, self.chunks, self.recipients, self.identity, self.sign)


class Harness:
    def __init__(self, root: Path) -> None:
        self.out = root / "sessions"
        self.fake = FakeSources()

    async def open(self, db_path: Path) -> ManifestSealer:
        self.db = await open_db(db_path, MIGRATIONS)
        self.sealer = ManifestSealer(self.db, self.out, self.fake.sources())
        return self.sealer

    def manifest(self, session: str = SESSION) -> SignedManifest:
        return SignedManifest.from_bytes((self.out / session / "manifest.json").read_bytes())


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    await harness.open(tmp_path / "merkle.db")
    yield harness
    await harness.db.close()


async def test_manifest_is_signed_and_describes_the_session(h: Harness) -> None:
    h.fake.add_chunks("video.0", 3)
    h.fake.add_chunks("audit.0", 2)
    root = await h.sealer.seal(SESSION)
    signed = h.manifest()
    signed.verify_signature()
    m = signed.manifest
    assert signed.public_key == h.fake.device.verify_key.encode()
    assert m.tree_root.hex() == root
    assert (m.session, m.started_at, m.ended_at, m.complete) == (
        SESSION,
        INFO["started_at"],
        INFO["ended_at"],
        True,
    )
    assert m.encoder.name == "libx264" and dict(m.encoder.settings)["crf"] == "23"
    assert [r.x25519 for r in m.recipients] == [h.fake.x25519, h.fake.auditor]
    rows = {(s, i): (d, size, plain) for s, i, d, size, plain, _ in h.fake.rows[SESSION]}
    assert {(c.stream, c.index): (c.hash_hex, c.size, c.plain_size) for c in m.chunks} == rows
    state = await h.sealer.state(SESSION)
    assert state is not None
    assert (state["state"], state["root"], state["chunks"], state["complete"]) == (
        "sealed",
        root,
        5,
        1,
    )
    assert state["bytes"] == sum(size for _, size, _ in rows.values())


async def test_streams_are_ordered_video_parts_then_audit(h: Harness) -> None:
    for stream in ("audit.1", "video.10", "audit.0", "video.1", "video.2", "video.0"):
        h.fake.add_chunks(stream, 2)
    random.Random(3).shuffle(h.fake.rows[SESSION])  # the encryptor's order is no guarantee
    await h.sealer.seal(SESSION)
    m = h.manifest().manifest
    names = ["video.0", "video.1", "video.2", "video.10", "audit.0", "audit.1"]
    assert [s.name for s in m.streams] == names
    assert [(s.kind, s.chunks) for s in m.streams] == [("video", 2)] * 4 + [("audit", 2)] * 2
    assert {s.media_type for s in m.streams[:4]} == {"video/mp4"}
    assert [(c.stream, c.index) for c in m.chunks] == [(n, i) for n in names for i in (0, 1)]


async def test_proofs_file_matches_the_tree(h: Harness) -> None:
    h.fake.add_chunks("video.0", 4)
    h.fake.add_chunks("audit.0", 3)
    root = await h.sealer.seal(SESSION)
    proofs = Proofs.from_bytes((h.out / SESSION / "proofs.json").read_bytes())
    chunks = h.manifest().manifest.chunks
    assert proofs.root.hex() == root and proofs.tree_size == len(chunks) == 7
    for i, (proof, chunk) in enumerate(zip(proofs.proofs, chunks, strict=True)):
        assert proof.leaf == i and proof.hash == chunk.hash
        assert verify_inclusion(chunk.hash, i, proofs.tree_size, proof.path, proofs.root)
        assert not verify_inclusion(
            chunk.hash, (i + 1) % 7, proofs.tree_size, proof.path, proofs.root
        )


async def test_sealing_twice_is_a_no_op(h: Harness, tmp_path: Path) -> None:
    h.fake.add_chunks("video.0", 2)
    root = await h.sealer.seal(SESSION)
    written = (h.out / SESSION / "manifest.json").read_bytes()
    calls = list(h.fake.calls)
    h.fake.add_chunks("video.0", 1)  # even if a source changed its answer since
    assert await h.sealer.seal(SESSION) == root
    await h.db.close()
    sealer = await h.open(tmp_path / "merkle.db")  # and after a restart
    assert await sealer.seal(SESSION) == root
    assert h.fake.calls == calls  # no source was asked again, nothing re-signed
    assert (h.out / SESSION / "manifest.json").read_bytes() == written


async def test_no_chunks_is_a_seal_error(h: Harness) -> None:
    with pytest.raises(SealError, match="no sealed chunks"):
        await h.sealer.seal(SESSION)
    assert not (h.out / SESSION).exists()
    assert await h.sealer.state(SESSION) is None
    assert "sign" not in h.fake.calls


async def test_wrong_signature_writes_nothing(h: Harness) -> None:
    h.fake.add_chunks("video.0", 2)
    h.fake.signer = nacl.signing.SigningKey.generate()  # walletd signs with another key
    with pytest.raises((SealError, VerificationError)):
        await h.sealer.seal(SESSION)
    assert not (h.out / SESSION / "manifest.json").exists()
    assert not (h.out / SESSION / "proofs.json").exists()
    assert await h.sealer.state(SESSION) is None

    h.fake.signer = h.fake.device  # with the right key the session seals
    await h.sealer.seal(SESSION)
    h.manifest().verify_signature()


async def test_failed_sessions_are_listed_and_can_be_sealed_later(h: Harness) -> None:
    h.fake.add_chunks("video.0", 1, session="s2")
    await h.sealer.mark_failed(SESSION, "no sealed chunks")
    root = await h.sealer.seal("s2")
    listed = {s["session"]: s for s in await h.sealer.list()}
    assert set(listed) == {SESSION, "s2"}
    assert (listed[SESSION]["state"], listed[SESSION]["message"]) == ("failed", "no sealed chunks")
    assert (listed["s2"]["state"], listed["s2"]["root"]) == ("sealed", root)
    assert await h.sealer.state(SESSION) == listed[SESSION]

    h.fake.add_chunks("video.0", 1)  # a failed session is retried, not stuck
    await h.sealer.seal(SESSION)
    state = await h.sealer.state(SESSION)
    assert state is not None and state["state"] == "sealed" and state["message"] == ""


@pytest.mark.parametrize("fault", ["chunk_gap", "foreign_signer"])
async def test_inconsistent_inputs_raise_seal_error(h: Harness, fault: str) -> None:
    h.fake.add_chunks("video.0", 3)
    if fault == "chunk_gap":
        del h.fake.rows[SESSION][1]  # video.0#1 missing: the manifest cannot be built
    else:
        h.fake.signer = nacl.signing.SigningKey.generate()
    with pytest.raises(SealError):
        await h.sealer.seal(SESSION)
