"""Device keys held by walletd: the Ed25519 identity key and the X25519 device key.

``KeyBackend`` is the seam for hardware: this module provides ``FileKeyBackend`` (keys in
walletd's own state directory, mode 0600, created once, atomically). A PKCS#11 or TPM
backend implements the same three operations without ever exposing the private key.
``load_or_create_secret`` is how every walletd key file is made (``chainkeys`` uses it too).
Nothing here returns a private key to a caller, and nothing here talks to the bus.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import nacl.bindings
import nacl.exceptions
import nacl.signing

from lucid.evidence.crypto import device_fingerprint
from lucid.evidence.timestamps import utc_timestamp
from lucid.runtime.errors import LucidError

IDENTITY_FILE = "identity.ed25519"  # 32-byte Ed25519 seed
DEVICE_FILE = "device.x25519"  # 32-byte X25519 secret
KEY_SIZE = 32


class KeyStoreError(LucidError):
    """The key store is unreadable, corrupt or cannot be written."""


def _random_secret() -> bytes:
    return os.urandom(KEY_SIZE)


def load_or_create_secret(
    directory: Path, filename: str, generate: Callable[[], bytes] = _random_secret
) -> bytes:
    """Read the 32-byte secret ``directory/filename``, creating it on first use.

    A new secret comes from ``generate``, is written to a temporary file (mode 0600) and
    fsynced, then hard-linked into place, so a crash never leaves a half-written key and a
    key that appeared meanwhile is never replaced. The secret is never logged.

    Raises:
        KeyStoreError: unreadable, uncreatable, or not 32 bytes.
    """
    path = directory / filename
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = generate()
        tmp = path.with_suffix(".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)  # never replaces a key that appeared meanwhile
            os.unlink(tmp)
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except FileExistsError:
            os.unlink(tmp)
            data = path.read_bytes()
        except OSError as err:
            raise KeyStoreError(f"cannot create key {path}: {err.strerror}") from err
    except OSError as err:
        raise KeyStoreError(f"cannot read key {path}: {err.strerror}") from err
    if len(data) != KEY_SIZE:
        raise KeyStoreError(f"key file {path} is corrupt ({len(data)} bytes, want 32)")
    return data


@dataclass(frozen=True)
class PublicKeys:
    ed25519: bytes
    x25519: bytes
    created_at: str = ""  # RFC 3339 UTC: when the identity key was made

    @property
    def fingerprint(self) -> str:
        """Short, human-comparable identity (`lucid.evidence.crypto.device_fingerprint`)."""
        return device_fingerprint(self.ed25519)


class KeyBackend(Protocol):
    """Where the device's private keys live. Implementations never export them."""

    name: str

    def public_keys(self) -> PublicKeys: ...

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) by the identity key."""
        ...

    def unseal(self, sealed: bytes) -> bytes:
        """Open a libsodium sealed box addressed to the device X25519 key."""
        ...


class FileKeyBackend:
    """Keys as files in ``directory`` (walletd's StateDirectory, mode 0700)."""

    name = "file"

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        seed = load_or_create_secret(directory, IDENTITY_FILE)
        self._signing = nacl.signing.SigningKey(seed)
        self._x_secret = load_or_create_secret(directory, DEVICE_FILE)
        made = (directory / IDENTITY_FILE).stat().st_mtime  # key files are never rewritten
        self._public = PublicKeys(
            ed25519=bytes(self._signing.verify_key),
            x25519=nacl.bindings.crypto_scalarmult_base(self._x_secret),
            created_at=utc_timestamp(datetime.fromtimestamp(made, UTC)),
        )

    def public_keys(self) -> PublicKeys:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signing.sign(message).signature)

    def unseal(self, sealed: bytes) -> bytes:
        try:
            return bytes(
                nacl.bindings.crypto_box_seal_open(sealed, self._public.x25519, self._x_secret)
            )
        except nacl.exceptions.CryptoError as err:
            raise KeyStoreError("sealed key does not open with the device key") from err
