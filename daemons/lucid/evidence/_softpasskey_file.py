"""The soft passkey's key file: its JSON, an atomic 0600 write, and a strict read.

File form (JSON, mode 0600; holds the private key)::

    {"format": "lucid.soft-passkey", "version": 1, "alg": "ES256" | "Ed25519",
     "private_key": "<64 hex>", "credential_id": "<b64url>",
     "rp_id": str | null, "user_handle": "<b64url>" | null}

This module knows the file, not the key: it does not derive a public key, sign, or
check that the private key is usable for its algorithm (`SoftPasskey` does when it
wraps what `read_key_file` returns). It does not encrypt the file: anyone who can
read it can approve as its owner. Use it through `lucid.evidence.softpasskey`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

from lucid.evidence._webauthn import b64u, from_b64u
from lucid.evidence.errors import FormatError, KeyFileError
from lucid.evidence.keyfile import write_secret_file

__all__ = [
    "SOFT_PASSKEY_FORMAT",
    "KeyFileContents",
    "SoftPasskeyAlg",
    "key_file_json",
    "read_key_file",
    "write_key_file",
]

SOFT_PASSKEY_FORMAT = "lucid.soft-passkey"
SoftPasskeyAlg = Literal["ES256", "Ed25519"]

_ALGS = frozenset({"ES256", "Ed25519"})


class KeyFileContents(NamedTuple):
    """The fields of a key file, decoded but not yet turned into a key."""

    alg: SoftPasskeyAlg
    private_key: bytes
    credential_id: bytes
    rp_id: str | None
    user_handle: bytes | None


def key_file_json(
    alg: SoftPasskeyAlg,
    private_key: bytes,
    credential_id: bytes,
    rp_id: str | None,
    user_handle: bytes | None,
) -> bytes:
    """The key-file JSON (contains the private key)."""
    doc = {
        "format": SOFT_PASSKEY_FORMAT,
        "version": 1,
        "alg": alg,
        "private_key": private_key.hex(),
        "credential_id": b64u(credential_id),
        "rp_id": rp_id,
        "user_handle": None if user_handle is None else b64u(user_handle),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def write_key_file(path: str | os.PathLike[str], data: bytes, *, overwrite: bool) -> None:
    """Write `data` to `path` atomically with mode 0600 (`keyfile.write_secret_file`)."""
    write_secret_file(path, data, overwrite=overwrite)


def read_key_file(path: str | os.PathLike[str]) -> KeyFileContents:
    """Read and check a key file, decoding its fields.

    Raises:
        KeyFileError: Missing, unreadable, not JSON, not a soft passkey, an
            unsupported version or algorithm, or a malformed field.
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
    if not isinstance(doc, dict) or doc.get("format") != SOFT_PASSKEY_FORMAT:
        raise KeyFileError(f"{src}: not a soft passkey (format is not {SOFT_PASSKEY_FORMAT!r})")
    version = doc.get("version")
    if version != 1 or isinstance(version, bool):
        raise KeyFileError(f"{src}: unsupported soft passkey version {version!r}")
    expected = {"format", "version", "alg", "private_key", "credential_id"}
    unknown = sorted(doc.keys() - expected - {"rp_id", "user_handle"})
    missing = sorted(expected - doc.keys())
    if missing or unknown:
        what = f"{missing[0]}: missing" if missing else f"{unknown[0]}: unknown field"
        raise KeyFileError(f"{src}: {what}")
    alg = doc["alg"]
    if alg not in _ALGS:
        raise KeyFileError(f"{src}: alg: {alg!r} is not 'ES256' or 'Ed25519'")
    rp_id = doc.get("rp_id")
    if rp_id is not None and (not isinstance(rp_id, str) or not rp_id):
        raise KeyFileError(f"{src}: rp_id: expected a non-empty string or null")
    private = doc["private_key"]
    if not isinstance(private, str) or len(private) != 64:
        raise KeyFileError(f"{src}: private_key: expected 64 lowercase hex digits")
    try:
        key = bytes.fromhex(private)
        if key.hex() != private:
            raise ValueError("not lowercase")
        handle = doc.get("user_handle")
        return KeyFileContents(
            cast(SoftPasskeyAlg, alg),
            key,
            from_b64u(doc["credential_id"], "credential_id"),
            rp_id,
            None if handle is None else from_b64u(handle, "user_handle"),
        )
    except FormatError as err:
        raise KeyFileError(f"{src}: {err}") from None
    except ValueError as err:
        raise KeyFileError(f"{src}: private_key or credential_id unusable ({err})") from None
