"""Strict Ed25519: the one signature check every Ed25519 verification in Lucid uses.

The rule (docs/evidence.md §"Strict Ed25519"), for public key ``A`` (32 bytes),
signature ``R || S`` (64 bytes) and message ``M``; anything else is rejected:

1. ``A`` is a canonical encoding (``y < p``; not ``x = 0`` with the sign bit set),
   is not one of the 8 points of small order (order dividing 8), and is a point of
   the prime-order subgroup (``L·A`` is the identity);
2. ``R`` is a canonical encoding and is not of small order;
3. ``S < L`` (canonical scalar);
4. ``[S]B == R + [SHA-512(R || A || M)]A``, compared as encodings (cofactorless).

Why: RFC 8032 leaves 1-2 to the implementation, and OpenSSL (under `cryptography`)
accepts small-order keys: with ``A`` = identity, ``R`` = identity and ``S`` = 0 a
"signature" verifies for every message, so anyone could forge a passkey approval.

What is done by hand, and why: checks 1 (encoding and the small-order list), 2 and 3
are a few integer comparisons here, so the rule holds whatever libsodium build
PyNaCl loads (libsodium makes the same checks unless built with ``ED25519_COMPAT``)
and so each refusal has its own message. Subgroup membership and being on the curve
at all use libsodium's ``crypto_core_ed25519_is_valid_point``; the equation (4) is
libsodium's ``crypto_sign_verify_detached`` (through ``nacl.signing.VerifyKey``).

This module does not know what is signed or by whom; callers translate
`Ed25519Rejected` into their own `VerificationError` item.
"""

from __future__ import annotations

from typing import Literal

import nacl.bindings as sodium
import nacl.exceptions
import nacl.signing

from lucid.evidence.errors import EvidenceError

__all__ = ["SMALL_ORDER_POINTS", "Ed25519Rejected", "check_public_key", "verify_ed25519"]

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = 2**255 - 1

SMALL_ORDER_POINTS = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # identity
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    )
)
"""The canonical encodings of the 8 Edwards25519 points whose order divides 8."""


class Ed25519Rejected(EvidenceError):
    """An Ed25519 key or signature fails the strict rule.

    Attributes:
        part: ``"public_key"`` (the key is unusable for any message) or ``"signature"``.
        reason: One line saying which check failed.
    """

    def __init__(self, part: Literal["public_key", "signature"], reason: str) -> None:
        super().__init__(f"Ed25519 {part}: {reason}")
        self.part = part
        self.reason = reason


def _encoding_problem(point: bytes) -> str | None:
    """Why a 32-byte point encoding is refused (non-canonical or small order), or None."""
    y = int.from_bytes(point, "little") & _Y_MASK
    if y >= _P:
        return "non-canonical encoding (y >= p)"
    if y in (1, _P - 1) and point[31] & 0x80:
        return "non-canonical encoding (x = 0 with the sign bit set)"
    if point in SMALL_ORDER_POINTS:
        return "a point of small order (order divides 8)"
    return None


def check_public_key(public_key: bytes) -> None:
    """Check rule 1 alone: `public_key` is one a genuine Ed25519 signer can have.

    Raises:
        Ed25519Rejected: ``part == "public_key"``: not 32 bytes, non-canonical, of
            small order, not on the curve or outside the prime-order subgroup.
    """
    if len(public_key) != 32:
        raise Ed25519Rejected("public_key", f"{len(public_key)} bytes, not 32")
    problem = _encoding_problem(public_key)
    if problem is not None:
        raise Ed25519Rejected("public_key", problem)
    if not sodium.crypto_core_ed25519_is_valid_point(public_key):
        raise Ed25519Rejected("public_key", "not a point of the prime-order subgroup")


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify a pure Ed25519 signature (RFC 8032) under the strict rule above.

    Raises:
        Ed25519Rejected: ``part == "public_key"`` for a refused key (see
            `check_public_key`); ``part == "signature"`` for a signature that is not
            64 bytes, has a non-canonical or small-order ``R``, has ``S >= L``, or
            does not satisfy the equation.
    """
    check_public_key(public_key)
    if len(signature) != 64:
        raise Ed25519Rejected("signature", f"{len(signature)} bytes, not 64")
    problem = _encoding_problem(signature[:32])
    if problem is not None:
        raise Ed25519Rejected("signature", f"R is {problem}")
    if int.from_bytes(signature[32:], "little") >= _L:
        raise Ed25519Rejected("signature", "S is not canonical (S >= L)")
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        raise Ed25519Rejected("signature", "does not verify under the public key") from None
