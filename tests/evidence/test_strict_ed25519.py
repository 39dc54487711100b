"""Strict Ed25519 (lucid.evidence.ed25519) in every check: small-order and non-canonical
keys and signatures are refused in approvals, the manifest and the anchor binding; genuine
ones still verify. Real crypto throughout."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import partial

import cbor2
import nacl.bindings as sodium
import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from lucid.evidence import SignedManifest, SoftPasskey, approval_challenge, verify_assertion
from lucid.evidence.ed25519 import (
    SMALL_ORDER_POINTS,
    Ed25519Rejected,
    check_public_key,
    verify_ed25519,
)
from tests.evidence.anchor_helpers import anchor_for
from tests.evidence.approval_helpers import SESSION, fails, make_request, passkey_record
from tests.evidence.helpers import Sample

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
IDENTITY = (1).to_bytes(32, "little")
FORGED = IDENTITY + bytes(32)  # R = identity, S = 0: "verifies" under the identity for any M


def _decode(point: bytes) -> tuple[int, int]:
    """RFC 8032 §5.1.3 decoding, written out so the torsion list is checked independently."""
    y = int.from_bytes(point, "little") & (2**255 - 1)
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    assert (x * x - x2) % P == 0, "not on the curve"
    if x & 1 != point[31] >> 7:
        x = P - x
    return x, y


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2
    return (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P


def _rejected(part: str, check: object) -> str:
    assert callable(check)
    with pytest.raises(Ed25519Rejected) as err:
        check()
    assert err.value.part == part, str(err.value)
    return err.value.reason


def test_the_list_is_exactly_the_points_of_order_dividing_8() -> None:
    assert len(SMALL_ORDER_POINTS) == 8
    for encoded in SMALL_ORDER_POINTS:
        point = _decode(encoded)
        acc = (0, 1)
        for _ in range(8):
            acc = _add(acc, point)
        assert acc == (0, 1), encoded.hex()


@pytest.mark.parametrize("key", sorted(SMALL_ORDER_POINTS), ids=lambda k: k.hex()[:8])
def test_every_small_order_key_is_refused(key: bytes) -> None:
    assert "small order" in _rejected("public_key", lambda: check_public_key(key))
    assert "small order" in _rejected("public_key", lambda: verify_ed25519(key, b"m", FORGED))


def test_non_canonical_and_mixed_order_keys_are_refused() -> None:
    # y = p + 1 is the identity spelled non-canonically; x = 0 with the sign bit set.
    assert "y >= p" in _rejected(
        "public_key", lambda: check_public_key((P + 1).to_bytes(32, "little"))
    )
    assert "sign bit" in _rejected(
        "public_key", lambda: check_public_key((1 + 2**255).to_bytes(32, "little"))
    )
    genuine = bytes(nacl.signing.SigningKey(b"\x07" * 32).verify_key)
    order8 = sorted(SMALL_ORDER_POINTS)[0]
    mixed = sodium.crypto_core_ed25519_add(genuine, order8)
    assert mixed != genuine
    assert "prime-order subgroup" in _rejected("public_key", lambda: check_public_key(mixed))


def test_non_canonical_signatures_are_refused() -> None:
    key = nacl.signing.SigningKey(b"\x07" * 32)
    public, message = bytes(key.verify_key), b"message"
    good = key.sign(message).signature
    verify_ed25519(public, message, good)
    r, s = good[:32], int.from_bytes(good[32:], "little")
    # S + L satisfies the equation too; only the canonical S is accepted.
    high_s = r + (s + L).to_bytes(32, "little")
    assert "S >= L" in _rejected("signature", lambda: verify_ed25519(public, message, high_s))
    bad_r = (P + 1).to_bytes(32, "little") + good[32:]
    assert "y >= p" in _rejected("signature", lambda: verify_ed25519(public, message, bad_r))
    small_r = sorted(SMALL_ORDER_POINTS)[1] + good[32:]
    assert "small order" in _rejected("signature", lambda: verify_ed25519(public, message, small_r))
    assert "does not verify" in _rejected(
        "signature", lambda: verify_ed25519(public, b"other", good)
    )


class ForgingPasskey(SoftPasskey):
    """A "passkey" with the identity as its Ed25519 key that signs R = identity, S = 0."""

    def cose_public_key(self) -> bytes:
        return bytes(cbor2.dumps({1: 1, 3: -8, -1: 6, -2: IDENTITY}, canonical=True))

    def _sign(self, data: bytes) -> bytes:
        return FORGED


def test_the_issues_forged_approval_fails() -> None:
    """Issue 10: a small-order key with S = 0 made an approval verify without any passkey."""
    forger = ForgingPasskey("Ed25519", b"\x01" * 32, b"forged-credential")
    record = passkey_record(forger, make_request(SESSION), "alice")
    assertion = record.webauthn
    assert assertion is not None
    challenge = approval_challenge(record.document)
    message = fails(lambda: verify_assertion(assertion, challenge, True), "public_key")
    assert "small order" in message


def test_non_canonical_s_in_an_approval_fails_and_the_genuine_one_verifies() -> None:
    key = SoftPasskey.generate("Ed25519")
    record = passkey_record(key, make_request(SESSION), "alice")
    assert record.webauthn is not None
    challenge = approval_challenge(record.document)
    verify_assertion(record.webauthn, challenge, True)
    sig = record.webauthn.signature
    high = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    forged = replace(record.webauthn, signature=high)
    assert "S >= L" in fails(lambda: verify_assertion(forged, challenge, True), "signature")


def test_manifest_refuses_small_order_key_and_non_canonical_s(sample: Sample) -> None:
    sample.signed.verify_signature()
    m = sample.manifest
    weak = replace(m, device=replace(m.device, ed25519=IDENTITY))
    signed = SignedManifest(manifest=weak, public_key=IDENTITY, signature=FORGED)
    message = fails(signed.verify_signature, "manifest.signature")
    assert "small order" in message
    sig = sample.signed.signature
    high = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    message = fails(replace(sample.signed, signature=high).verify_signature, "manifest.signature")
    assert "S >= L" in message


def test_decoder_matches_libsodium_on_a_genuine_key() -> None:
    """The test's own decoding agrees with libsodium (so the torsion check above means it)."""
    key = bytes(nacl.signing.SigningKey(hashlib.sha256(b"k").digest()).verify_key)
    x, y = _decode(key)
    assert (-x * x + y * y - 1 - D * x * x * y * y) % P == 0
    assert sodium.crypto_core_ed25519_is_valid_point(key)


# --- ES256: the rule stated beside it (docs/evidence.md) -------------------------------

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_es256_accepts_high_s_and_refuses_out_of_range_values() -> None:
    """Authenticators do not normalise S, so high S verifies; r or s = 0 or >= n does not."""
    key = SoftPasskey.generate("ES256")
    record = passkey_record(key, make_request(SESSION), "alice")
    assert record.webauthn is not None
    challenge = approval_challenge(record.document)
    r, s = decode_dss_signature(record.webauthn.signature)
    flipped = replace(record.webauthn, signature=encode_dss_signature(r, P256_N - s))
    verify_assertion(record.webauthn, challenge, True)
    verify_assertion(flipped, challenge, True)
    for bad_r, bad_s in ((r, 0), (0, s), (r, s + P256_N), (r + P256_N, s)):
        forged = replace(record.webauthn, signature=encode_dss_signature(bad_r, bad_s))
        fails(partial(verify_assertion, forged, challenge, True), "signature")


def test_anchor_binding_refuses_non_canonical_s(sample: Sample) -> None:
    proof = anchor_for(sample)
    proof.check(sample.manifest)
    sig = proof.binding
    high = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    message = fails(partial(replace(proof, binding=high).check, sample.manifest), "anchor.binding")
    assert "S >= L" in message
