"""Manifest model: strict parsing names the bad field; building puts chunks in leaf order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lucid.evidence import (
    ChunkEntry,
    FormatError,
    Manifest,
    build_manifest,
    canonical_json,
    leaf_hash,
    parse_timestamp,
    root,
    utc_timestamp,
)
from tests.evidence.helpers import DELETE, Sample, mutate


def test_round_trip(sample: Sample) -> None:
    d = sample.manifest.to_dict()
    assert Manifest.from_dict(d) == sample.manifest
    assert Manifest.from_dict(d).to_dict() == d
    assert d["tree"] == {"hash": "blake3", "size": 7, "root": sample.manifest.tree_root.hex()}
    assert [(c["stream"], c["index"]) for c in d["chunks"]] == [
        ("video.0", 0), ("video.0", 1), ("video.0", 2),
        ("video.1", 0), ("video.1", 1), ("audit", 0), ("audit", 1),
    ]  # fmt: skip
    assert sample.manifest.tree_root == root([c.hash for c in sample.manifest.chunks])
    assert all(leaf_hash(sample.store[c.hash_hex]) == c.hash for c in sample.manifest.chunks)


H = "ab" * 32


@pytest.mark.parametrize(
    ("path", "value", "field", "problem"),
    [
        (("format",), "lucid.manifesto", "manifest.format", "is not one of"),
        (("version",), 2, "manifest.version", "unsupported version"),
        (("version",), True, "manifest.version", "expected an integer"),
        (("session",), "a/b", "manifest.session", "expected 1-64 characters"),
        (("session",), "..", "manifest.session", "expected 1-64 characters"),
        (("session",), "x" * 65, "manifest.session", "expected 1-64 characters"),
        (("session",), DELETE, "manifest.session", "missing"),
        (("extra",), 1, "manifest.extra", "unknown field"),
        (("device", "ed25519"), "AB" * 32, "manifest.device.ed25519", "lowercase hex"),
        (("device", "x25519"), "ab" * 16, "manifest.device.x25519", "lowercase hex"),
        (("device", "tpm"), "x", "manifest.device.tpm", "unknown field"),
        (("started_at",), "2026-11-22 02:15:30Z", "manifest.started_at", "RFC 3339"),
        (("started_at",), "2026-11-22T02:15:30+01:00", "manifest.started_at", "RFC 3339"),
        (("ended_at",), "2026-02-30T02:15:30.1Z", "manifest.ended_at", "not a real date"),
        (("encoder", "name"), "", "manifest.encoder.name", "non-empty string"),
        (("encoder", "settings", "crf"), 28, "manifest.encoder.settings.crf", "a string"),
        (("encoder", "settings"), [], "manifest.encoder.settings", "an object"),
        (("streams",), {}, "manifest.streams", "expected an array"),
        (("streams", 0, "kind"), "screen", "manifest.streams[0].kind", "is not one of"),
        (("streams", 1, "name"), "video 1", "manifest.streams[1].name", "1-64 characters"),
        (("streams", 1, "name"), "video.0", "manifest.streams[1].name", "duplicate stream"),
        (("streams", 2, "media_type"), None, "manifest.streams[2].media_type", "non-empty"),
        (("streams", 0, "chunks"), -1, "manifest.streams[0].chunks", "out of range"),
        (("streams", 0, "chunks"), 4, "manifest.chunks", "streams declare 8"),
        (("chunks", 3, "hash"), "zz" * 32, "manifest.chunks[3].hash", "lowercase hex"),
        (("chunks", 3, "hash"), DELETE, "manifest.chunks[3].hash", "missing"),
        (("chunks", 3, "size"), 39, "manifest.chunks[3].size", "out of range [40"),
        (("chunks", 3, "size"), 1.5, "manifest.chunks[3].size", "expected an integer"),
        (("chunks", 3, "plain_size"), 2**53, "manifest.chunks[3].plain_size", "out of range"),
        (("chunks", 3, "compression"), "gzip", "manifest.chunks[3].compression", "not one of"),
        (("chunks", 3, "index"), 1, "manifest.chunks[3]", "expected video.1#0 here"),
        (("chunks", 3, "stream"), "audit", "manifest.chunks[3]", "expected video.1#0 here"),
        (("chunks", 3, "colour"), "red", "manifest.chunks[3].colour", "unknown field"),
        (("chunks", 3), "chunk", "manifest.chunks[3]", "expected an object"),
        (("cipher",), "aes-256-gcm", "manifest.cipher", "is not one of"),
        (("recipients",), [], "manifest.recipients", "at least one recipient"),
        (("recipients", 0, "sealed_key"), H, "manifest.recipients[0].sealed_key", "160 lower"),
        (("recipients", 1, "x25519"), "x", "manifest.recipients[1].x25519", "lowercase hex"),
        (("tree", "hash"), "sha256", "manifest.tree.hash", "is not one of"),
        (("tree", "size"), 6, "manifest.tree.size", "but there are 7 chunks"),
        (("tree", "root"), "ab", "manifest.tree.root", "lowercase hex"),
        (("policy",), [], "manifest.policy", "an object or null"),
        (("complete",), 1, "manifest.complete", "true or false"),
        (("complete",), DELETE, "manifest.complete", "missing"),
    ],
)
def test_each_bad_field_is_named(
    sample: Sample, path: tuple[Any, ...], value: Any, field: str, problem: str
) -> None:
    bad = mutate(sample.manifest.to_dict(), path, value)
    with pytest.raises(FormatError) as err:
        Manifest.from_dict(bad)
    message = str(err.value)
    assert message.startswith(f"{field}:"), message
    assert problem in message, message
    assert "\n" not in message


def test_duplicate_chunk_hash_and_recipient(sample: Sample) -> None:
    d = sample.manifest.to_dict()
    bad = mutate(d, ("chunks", 1, "hash"), d["chunks"][0]["hash"])
    with pytest.raises(FormatError, match=r"^manifest.chunks\[1\].hash: duplicate"):
        Manifest.from_dict(bad)
    bad = mutate(d, ("recipients", 1), d["recipients"][0])
    with pytest.raises(FormatError, match=r"^manifest.recipients\[1\].x25519: duplicate"):
        Manifest.from_dict(bad)


def test_policy_is_carried_as_is(sample: Sample) -> None:
    d = mutate(sample.manifest.to_dict(), ("policy",), {"z": [1, {"y": None}], "a": "b"})
    assert Manifest.from_dict(d).to_dict()["policy"] == {"z": [1, {"y": None}], "a": "b"}
    d = mutate(d, ("policy",), None)
    assert Manifest.from_dict(d).policy is None


def test_zero_chunk_session(sample_factory: Callable[..., Sample]) -> None:
    s = sample_factory({"video.0": [], "audit": []}, complete=False)
    assert s.manifest.tree_size == 0
    assert s.manifest.tree_root.hex() == (
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )
    assert s.manifest.complete is False


def test_build_manifest_checks(sample: Sample) -> None:
    m = sample.manifest
    kwargs: dict[str, Any] = {
        "session": m.session,
        "device": m.device,
        "started_at": m.started_at,
        "ended_at": m.ended_at,
        "encoder": m.encoder,
        "streams": m.streams,
        "chunks": m.chunks,
        "recipients": m.recipients,
        "policy": m.policy,
    }
    assert build_manifest(**kwargs) == m
    stray = ChunkEntry("video.9", 0, b"\x01" * 32, 50, 10, "none")
    with pytest.raises(FormatError, match=r"stream 'video.9' is not declared"):
        build_manifest(**(kwargs | {"chunks": [*m.chunks, stray]}))
    with pytest.raises(FormatError, match=r"manifest.chunks: 6 entries but streams declare 7"):
        build_manifest(**(kwargs | {"chunks": m.chunks[:-1]}))
    with pytest.raises(FormatError, match=r"manifest.session"):
        build_manifest(**(kwargs | {"session": "bad name"}))
    with pytest.raises(FormatError, match=r"manifest.started_at"):
        build_manifest(**(kwargs | {"started_at": "yesterday"}))


def test_to_dict_is_canonicalisable(sample: Sample) -> None:
    raw = canonical_json(sample.manifest.to_dict())
    assert raw.startswith(b'{"chunks":[{"compression":"zstd","hash":"')


def test_timestamps() -> None:
    moment = datetime(2026, 11, 22, 2, 15, 30, 123456, tzinfo=UTC)
    assert utc_timestamp(moment) == "2026-11-22T02:15:30.123Z"
    plus2 = timezone(timedelta(hours=2))
    assert utc_timestamp(moment.astimezone(plus2)) == "2026-11-22T02:15:30.123Z"
    with pytest.raises(ValueError):
        utc_timestamp(datetime(2026, 1, 1))
    assert parse_timestamp("2026-11-22T02:15:30.123456789Z", "t") == moment
    assert parse_timestamp("2026-11-22T02:15:30Z", "t") == moment.replace(microsecond=0)
