"""Signed manifest: signing message, sign / verify, strict wire form."""

from __future__ import annotations

import json

import nacl.signing
import pytest

from lucid.evidence import (
    FormatError,
    SignedManifest,
    VerificationError,
    canonical_json,
    signing_message,
)
from tests.evidence.helpers import Sample


def test_signing_message(sample: Sample) -> None:
    msg = signing_message(sample.manifest)
    assert msg == b"lucid.manifest.v1\x00" + canonical_json(sample.manifest.to_dict())
    sample.device.verify_key.verify(msg, sample.signed.signature)


def test_round_trip_and_verify(sample: Sample) -> None:
    raw = sample.signed.to_bytes()
    assert raw == canonical_json(sample.signed.to_dict())
    parsed = SignedManifest.from_bytes(raw)
    assert parsed == sample.signed
    parsed.verify_signature()
    doc = json.loads(raw)
    assert doc["signature"]["alg"] == "ed25519"
    assert doc["signature"]["public_key"] == doc["manifest"]["device"]["ed25519"]


def test_sign_rejects_foreign_key_and_garbage(sample: Sample) -> None:
    stranger = nacl.signing.SigningKey.generate()
    with pytest.raises(VerificationError) as err:
        SignedManifest.sign(sample.manifest, lambda m: stranger.sign(m).signature)
    assert err.value.item == "manifest.signature"
    with pytest.raises(ValueError):
        SignedManifest.sign(sample.manifest, lambda m: b"\x00" * 12)


def _resign_doc(sample: Sample, change: dict[str, object]) -> bytes:
    doc = sample.signed.to_dict()
    doc["manifest"].update(change)
    return canonical_json(doc)


@pytest.mark.parametrize(
    "change",
    [{"complete": False}, {"ended_at": "2026-11-22T02:57:31.123Z"}, {"policy": None}],
)
def test_changed_field_breaks_signature(sample: Sample, change: dict[str, object]) -> None:
    parsed = SignedManifest.from_bytes(_resign_doc(sample, change))
    with pytest.raises(VerificationError) as err:
        parsed.verify_signature()
    assert err.value.item == "manifest.signature"


def test_public_key_must_be_device_key(sample: Sample) -> None:
    other = nacl.signing.SigningKey.generate()
    doc = sample.signed.to_dict()
    doc["signature"]["public_key"] = bytes(other.verify_key).hex()
    doc["signature"]["value"] = other.sign(signing_message(sample.manifest)).signature.hex()
    parsed = SignedManifest.from_bytes(canonical_json(doc))
    with pytest.raises(VerificationError, match=r"differs from manifest.device.ed25519"):
        parsed.verify_signature()


def test_bit_flips_in_signature_fail(sample: Sample) -> None:
    for i in (0, 31, 32, 63):
        sig = bytearray(sample.signed.signature)
        sig[i] ^= 1
        bad = SignedManifest(sample.manifest, sample.signed.public_key, bytes(sig))
        with pytest.raises(VerificationError):
            bad.verify_signature()


def test_from_bytes_errors(sample: Sample) -> None:
    doc = sample.signed.to_dict()
    pretty = json.dumps(doc, indent=1).encode()
    with pytest.raises(FormatError, match=r"^manifest.json: not in canonical form"):
        SignedManifest.from_bytes(pretty)
    doc["signature"]["alg"] = "rsa"
    with pytest.raises(FormatError, match=r"^manifest.json: signature.alg: 'rsa' is not one of"):
        SignedManifest.from_bytes(canonical_json(doc))
    doc = sample.signed.to_dict()
    doc["manifest"]["chunks"][2]["size"] = "big"
    with pytest.raises(FormatError, match=r"^manifest.json: manifest.chunks\[2\].size: expected"):
        SignedManifest.from_bytes(canonical_json(doc))
    doc = sample.signed.to_dict() | {"comment": "hi"}
    with pytest.raises(FormatError, match=r"^manifest.json: comment: unknown field"):
        SignedManifest.from_bytes(canonical_json(doc))
    with pytest.raises(FormatError, match=r"^manifest.json: expected a JSON object"):
        SignedManifest.from_bytes(b"[]")
