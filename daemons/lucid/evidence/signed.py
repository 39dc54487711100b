"""The signed manifest: a manifest plus the device's Ed25519 signature over it.

Wire form (``manifest.json`` in a bundle; RFC 8785 canonical bytes)::

    {"manifest": {...}, "signature": {"alg": "ed25519", "public_key": hex32, "value": hex64}}

The signature is Ed25519 over ``b"lucid.manifest.v1\\x00" + canonical_json(manifest)``
and must verify under ``manifest.device.ed25519``, which must also equal
``signature.public_key``.

This module does not hold the device signing key (walletd does; `SignedManifest.sign`
takes a callable) and does not decide whether a device key is trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lucid.evidence import _fields as f
from lucid.evidence.canonical import canonical_json, parse_json
from lucid.evidence.ed25519 import Ed25519Rejected, verify_ed25519
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.limits import MAX_MANIFEST_SIZE, MAX_MANIFEST_TOKENS
from lucid.evidence.manifest import Manifest

__all__ = ["SIGNING_CONTEXT", "SignedManifest", "signing_message"]

SIGNING_CONTEXT = b"lucid.manifest.v1\x00"
"""Domain-separation prefix of the signed message."""
SIGNATURE_ITEM = "manifest.signature"
_SIG_KEYS = frozenset({"alg", "public_key", "value"})


def signing_message(manifest: Manifest) -> bytes:
    """The exact bytes the device signs.

    Args:
        manifest: The manifest.

    Returns:
        ``b"lucid.manifest.v1\\x00" + canonical_json(manifest.to_dict())``.
    """
    return SIGNING_CONTEXT + canonical_json(manifest.to_dict())


@dataclass(frozen=True)
class SignedManifest:
    """A manifest with its signature (not necessarily a valid one: call `verify_signature`)."""

    manifest: Manifest
    public_key: bytes
    signature: bytes

    @classmethod
    def sign(cls, manifest: Manifest, signer: Callable[[bytes], bytes]) -> SignedManifest:
        """Sign a manifest with the device key.

        Args:
            manifest: The manifest to sign.
            signer: Returns the 64-byte Ed25519 signature of the bytes it is given,
                made with the key whose public half is ``manifest.device.ed25519``
                (in production: walletd over the bus).

        Raises:
            ValueError: The signer returned something other than 64 bytes.
            VerificationError: The signature does not verify under
                ``manifest.device.ed25519`` (item ``"manifest.signature"``): the
                signer holds a different key than the manifest names.

        Returns:
            The signed manifest.
        """
        signature = signer(signing_message(manifest))
        if not isinstance(signature, bytes) or len(signature) != 64:
            raise ValueError("signer must return a 64-byte Ed25519 signature")
        signed = cls(manifest=manifest, public_key=manifest.device.ed25519, signature=signature)
        signed.verify_signature()
        return signed

    def verify_signature(self) -> None:
        """Check the signature.

        Raises:
            VerificationError: ``signature.public_key`` differs from
                ``manifest.device.ed25519``, or the signature does not verify under
                the strict rule of `lucid.evidence.ed25519` (item ``"manifest.signature"``).
        """
        if self.public_key != self.manifest.device.ed25519:
            raise VerificationError(
                SIGNATURE_ITEM,
                "manifest.signature: public_key differs from manifest.device.ed25519",
            )
        try:
            verify_ed25519(self.public_key, signing_message(self.manifest), self.signature)
        except Ed25519Rejected as err:
            if err.part == "public_key":
                raise VerificationError(
                    SIGNATURE_ITEM, f"manifest.signature: the device key is refused: {err.reason}"
                ) from None
            raise VerificationError(
                SIGNATURE_ITEM,
                f"manifest.signature: {err.reason} (the manifest was altered or signed "
                "by another key)",
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "manifest": self.manifest.to_dict(),
            "signature": {
                "alg": "ed25519",
                "public_key": self.public_key.hex(),
                "value": self.signature.hex(),
            },
        }

    def to_bytes(self) -> bytes:
        """The canonical JSON bytes (what a bundle stores as ``manifest.json``)."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "manifest.json") -> SignedManifest:
        """Parse a signed manifest strictly (canonical JSON, v1 schema).

        The signature is *not* checked here; call `verify_signature`.

        Args:
            data: The bytes.
            what: File or member name for error messages.

        Raises:
            FormatError: Not canonical JSON, not the schema, or above the format's
                limits (size, tokens, counts: see `limits`); names `what` and the field.

        Returns:
            The signed manifest.
        """
        if len(data) > MAX_MANIFEST_SIZE:
            raise FormatError(
                f"{what}: {len(data)} bytes, more than the format's {MAX_MANIFEST_SIZE}"
            )
        doc = parse_json(data, what, require_canonical=True, max_tokens=MAX_MANIFEST_TOKENS)
        try:
            top = f.get_obj(doc, "", frozenset({"manifest", "signature"}))
            manifest = Manifest.from_dict(top["manifest"], "manifest")
            sig = f.get_obj(top["signature"], "signature", _SIG_KEYS)
            f.get_str(sig["alg"], "signature.alg", choices=frozenset({"ed25519"}))
            signed = cls(
                manifest=manifest,
                public_key=f.get_hex(sig["public_key"], "signature.public_key", 32),
                signature=f.get_hex(sig["value"], "signature.value", 64),
            )
        except FormatError as err:
            raise FormatError(f"{what}: {err}") from None
        # Defence in depth: what gets verified must be exactly what was read.
        if canonical_json(manifest.to_dict()) != canonical_json(top["manifest"]):
            raise FormatError(f"{what}: manifest does not round-trip (unsupported content)")
        return signed
