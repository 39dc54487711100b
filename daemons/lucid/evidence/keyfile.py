"""Recipient key files: the X25519 key pair an auditor holds.

``lucid demo`` writes one (``auditor.key``) and ``lucid play --key`` reads one.
File form (JSON, mode 0600)::

    {"format": "lucid.recipient-key", "version": 1,
     "x25519_secret": "<64 hex>", "x25519_public": "<64 hex>"}

This module does not encrypt the file (no passphrase) and does not search for
key files; the caller names the path.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings as sodium

from lucid.evidence.canonical import from_hex
from lucid.evidence.crypto import fingerprint
from lucid.evidence.errors import FormatError, KeyFileError

__all__ = ["KEY_FILE_FORMAT", "RecipientKey"]

KEY_FILE_FORMAT = "lucid.recipient-key"


def _publish_new(tmp: Path, dest: Path) -> None:
    """Move `tmp` to `dest` only if `dest` does not exist (FileExistsError otherwise)."""
    try:
        os.link(tmp, dest)  # atomic create-if-absent, unlike rename
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (vfat USB sticks, some FUSE mounts): check, then rename.
        if dest.exists():
            raise FileExistsError(dest) from None
        os.replace(tmp, dest)
        return
    os.unlink(tmp)


def write_secret_file(path: str | os.PathLike[str], data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file, fsync, rename, dir fsync).

    Args:
        path: Destination file.
        data: The file's bytes (a key file's JSON).
        overwrite: Replace an existing file; otherwise an existing file is an error.

    Raises:
        KeyFileError: The file exists (and not ``overwrite``) or cannot be written.
    """
    dest = Path(path)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            _publish_new(tmp, dest)
        dir_fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise KeyFileError(f"{dest}: already exists; refusing to overwrite a key") from None
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise KeyFileError(f"{dest}: cannot write key file ({err.strerror})") from None


@dataclass(frozen=True)
class RecipientKey:
    """An X25519 key pair that session data keys are wrapped to.

    File form (JSON, mode 0600)::

        {"format": "lucid.recipient-key", "version": 1,
         "x25519_secret": "<64 hex>", "x25519_public": "<64 hex>"}
    """

    secret: bytes = field(repr=False)
    public: bytes

    @classmethod
    def generate(cls) -> RecipientKey:
        """Return a fresh random key pair."""
        public, secret = sodium.crypto_box_keypair()
        return cls(secret=secret, public=public)

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of the public key (see `fingerprint`)."""
        return fingerprint(self.public)

    def to_json(self) -> bytes:
        """Serialise to the key-file JSON (contains the secret)."""
        doc = {
            "format": KEY_FILE_FORMAT,
            "version": 1,
            "x25519_secret": self.secret.hex(),
            "x25519_public": self.public.hex(),
        }
        return (json.dumps(doc, indent=2) + "\n").encode()

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the key file atomically with mode 0600.

        Args:
            path: Destination file.
            overwrite: Replace an existing file. Off by default: a lost auditor key
                makes every session wrapped to it unreadable.

        Raises:
            KeyFileError: The file exists (and not `overwrite`) or cannot be written.
        """
        write_secret_file(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RecipientKey:
        """Read and check a key file.

        Args:
            path: The key file.

        Raises:
            KeyFileError: Missing, unreadable, not JSON, not a Lucid recipient key,
                or its public key does not belong to its secret key.

        Returns:
            The key pair.
        """
        src = Path(path)
        try:
            data = src.read_bytes()
        except FileNotFoundError:
            raise KeyFileError(f"{src}: no such key file") from None
        except OSError as err:
            raise KeyFileError(f"{src}: cannot read key file ({err.strerror})") from None
        try:
            doc: Any = json.loads(data)
        except (ValueError, RecursionError):
            raise KeyFileError(f"{src}: not a key file (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != KEY_FILE_FORMAT:
            raise KeyFileError(
                f"{src}: not a Lucid recipient key (format is not {KEY_FILE_FORMAT!r})"
            )
        if doc.get("version") != 1 or isinstance(doc.get("version"), bool):
            raise KeyFileError(f"{src}: unsupported recipient key version {doc.get('version')!r}")
        try:
            secret = from_hex(doc.get("x25519_secret"), "x25519_secret", 32)
            public = from_hex(doc.get("x25519_public"), "x25519_public", 32)
        except FormatError as err:
            raise KeyFileError(f"{src}: {err}") from None
        if sodium.crypto_scalarmult_base(secret) != public:
            raise KeyFileError(f"{src}: x25519_public does not match x25519_secret")
        return cls(secret=secret, public=public)
