"""secp256k1 account keys held by walletd: one for the EVM account, one for the TRON account.

``Secp256k1Signer`` is the seam for hardware: it signs a 32-byte digest and tells its public
key, nothing more, which is what a PKCS#11 token or a secure element can do (FACTS "Keys":
SoftHSM signs secp256k1 only as raw ECDSA over a pre-hashed digest; such a backend finds the
recovery id by trying both and normalises s). This module provides ``FileSecp256k1Signer``:
the secret is a file in walletd's state directory, created on first start exactly like the
identity key (``keys.load_or_create_secret``), and signing is libsecp256k1's (coincurve).
Nothing here returns a private key, knows a chain's transaction format, or talks to the bus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import coincurve

from lucid.walletd.keys import KeyStoreError, load_or_create_secret

EVM_KEY_FILE = "evm.secp256k1"  # 32-byte secp256k1 secret of the EVM account
TRON_KEY_FILE = "tron.secp256k1"  # 32-byte secp256k1 secret of the TRON account
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DIGEST_SIZE = 32
SIGNATURE_SIZE = 65


class Secp256k1Signer(Protocol):
    """One secp256k1 key that never leaves its backend."""

    name: str  # backend name, e.g. "file"

    def public_key(self) -> bytes:
        """The uncompressed public key without its 0x04 prefix (64 bytes, X || Y)."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """Recoverable ECDSA signature over a 32-byte digest: r || s || v (65 bytes).

        s is in its low form and v (0 or 1) is the recovery id, as both Ethereum typed
        transactions and TRON expect.
        """
        ...


class FileSecp256k1Signer:
    """A secp256k1 key kept as ``directory/filename`` (mode 0600, created once)."""

    name = "file"

    def __init__(self, directory: Path, filename: str) -> None:
        secret = load_or_create_secret(directory, filename, _new_secret)
        if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            raise KeyStoreError(f"key file {directory / filename} is not a secp256k1 key")
        self._key = coincurve.PrivateKey(secret)
        self._public = self._key.public_key.format(compressed=False)[1:]

    def public_key(self) -> bytes:
        return self._public

    def sign_digest(self, digest: bytes) -> bytes:
        if len(digest) != DIGEST_SIZE:
            raise ValueError(f"a digest is {DIGEST_SIZE} bytes, got {len(digest)}")
        return bytes(self._key.sign_recoverable(digest, hasher=None))


def recovers_to(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """True if ``signature`` over ``digest`` recovers to ``public_key`` (64 bytes)."""
    if len(signature) != SIGNATURE_SIZE or signature[64] not in (0, 1):
        return False
    try:
        recovered = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except Exception:  # coincurve raises bare Exception for a signature that does not recover
        return False
    return bool(recovered.format(compressed=False)[1:] == public_key)


def _new_secret() -> bytes:
    return bytes(coincurve.PrivateKey().secret)  # os.urandom, redrawn until in [1, n)
