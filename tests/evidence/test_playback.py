"""Playback decryption: the right key gets the exact plaintext; everything else is refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

from lucid.evidence import (
    DecryptionError,
    NotARecipientError,
    RecipientKey,
    SignedManifest,
    StreamInfo,
    UnknownStreamError,
    VerificationError,
    build_manifest,
    build_proofs,
    canonical_json,
    decrypt_stream,
    leaf_hash,
    open_bundle,
    seal_chunk,
    wrap_key,
    write_bundle,
    write_stream,
)
from lucid.evidence.manifest import ChunkEntry, Recipient
from tests.evidence.helpers import Sample, read_members, write_members


def test_every_stream_round_trips(sample: Sample) -> None:
    with open_bundle(sample.path) as b:
        for stream, plain in sample.plaintexts.items():
            out = io.BytesIO()
            seen: list[int] = []
            assert write_stream(b, sample.recipient, stream, out, seen.append) == len(plain)
            assert out.getvalue() == plain
            assert seen[-1:] == ([len(plain)] if sample.manifest.chunks_of(stream) else [])
        # the other recipient can read too
        assert (
            b"".join(decrypt_stream(b, sample.other_recipient, "audit"))
            == (sample.plaintexts["audit"])
        )


def test_not_a_recipient(sample: Sample) -> None:
    stranger = RecipientKey.generate()
    with open_bundle(sample.path) as b, pytest.raises(NotARecipientError) as err:
        decrypt_stream(b, stranger, "video.0")
    message = str(err.value)
    assert f"not a recipient of session {sample.manifest.session}" in message
    assert sample.recipient.fingerprint in message and stranger.fingerprint in message


def test_unknown_stream(sample: Sample) -> None:
    with open_bundle(sample.path) as b, pytest.raises(UnknownStreamError, match=r"video.0, "):
        decrypt_stream(b, sample.recipient, "video.7")


def test_forged_bundle_is_refused(sample: Sample, tmp_path: Path) -> None:
    # Anyone can seal a data key to the auditor: only the signature stops a forgery.
    members = read_members(sample.path)
    doc = sample.signed.to_dict()
    doc["manifest"]["complete"] = False
    forged = [(n, canonical_json(doc) if n == "manifest.json" else d) for n, d in members]
    out = tmp_path / "forged.lucid"
    write_members(out, forged)
    with open_bundle(out) as b, pytest.raises(VerificationError) as err:
        decrypt_stream(b, sample.recipient, "audit")
    assert err.value.item == "manifest.signature"


def test_tampered_chunk_is_refused(sample: Sample, tmp_path: Path) -> None:
    victim = sample.manifest.chunks[1]
    name = f"chunks/{victim.hash_hex}"
    members = [(n, bytes(victim.size) if n == name else d) for n, d in read_members(sample.path)]
    out = tmp_path / "t.lucid"
    write_members(out, members)
    with open_bundle(out) as b:
        chunks = decrypt_stream(b, sample.recipient, "video.0")
        assert next(chunks)  # chunk 0 is fine
        with pytest.raises(VerificationError) as err:
            next(chunks)
    assert err.value.item == "chunk video.0#1"


def _session_with(sample: Sample, tmp_path: Path, body: bytes, plain_size: int) -> Path:
    """A correctly signed session whose only chunk holds `body` claiming `plain_size`."""
    sealed = seal_chunk(sample.data_key, "odd", "video.0", 0, body)
    m = sample.manifest
    entry = ChunkEntry("video.0", 0, leaf_hash(sealed), len(sealed), plain_size, "zstd")
    pub = sample.recipient.public
    manifest = build_manifest(
        session="odd",
        device=m.device,
        started_at=m.started_at,
        ended_at=m.ended_at,
        encoder=m.encoder,
        streams=[StreamInfo("video.0", "video", "video/mp4", 1)],
        chunks=[entry],
        recipients=[Recipient(pub, wrap_key(sample.data_key, pub))],
    )
    signed = SignedManifest.sign(manifest, lambda msg: sample.device.sign(msg).signature)
    out = tmp_path / "odd.lucid"
    write_bundle(out, signed, build_proofs(manifest), {entry.hash_hex: sealed}.__getitem__)
    return out


@pytest.mark.parametrize(
    ("body", "plain_size", "fragment"),
    [
        (zstandard.ZstdCompressor().compress(b"x" * 1000), 999, "more than its 999 plaintext"),
        (zstandard.ZstdCompressor().compress(b"x" * 1000), 1001, "1000 plaintext bytes"),
        (b"not zstd at all", 10, "not valid zstd"),
        (zstandard.ZstdCompressor().compress(b"abc") + b"trailing", 3, "not valid zstd"),
    ],
)
def test_bad_compressed_payloads(
    sample: Sample, tmp_path: Path, body: bytes, plain_size: int, fragment: str
) -> None:
    bundle = open_bundle(_session_with(sample, tmp_path, body, plain_size))
    with bundle, pytest.raises(DecryptionError) as err:
        write_stream(bundle, sample.recipient, "video.0", io.BytesIO())
    assert err.value.item == "chunk video.0#0" and fragment in str(err.value)


def test_multi_frame_zstd_chunk(sample: Sample, tmp_path: Path) -> None:
    c = zstandard.ZstdCompressor()
    body = c.compress(b"a" * 500) + c.compress(b"b" * 300)
    with open_bundle(_session_with(sample, tmp_path, body, 800)) as b:
        out = io.BytesIO()
        write_stream(b, sample.recipient, "video.0", out)
    assert out.getvalue() == b"a" * 500 + b"b" * 300
