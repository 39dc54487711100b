"""The exceptions raised by `lucid.evidence`.

Every error this package raises on purpose descends from one root::

    EvidenceError
    ├── FormatError           input is malformed, foreign or truncated
    ├── VerificationError     well-formed input whose cryptographic check fails (.item)
    ├── Ed25519Rejected       (lucid.evidence.ed25519) a key or signature fails the strict
    │                         Ed25519 rule; callers turn it into a VerificationError
    ├── DecryptionError       a chunk or a wrapped data key does not open (.item)
    ├── KeyFileError          a recipient key file is missing or unusable
    ├── NotARecipientError    the key is not among a session's recipients
    └── UnknownStreamError    a stream name the manifest does not declare

`FormatError` means "this is not (a valid instance of) the format";
`VerificationError` means "this is the format, and it has been tampered with or
corrupted". Messages are one line that names the file member, field or item, so
a person can act on them.

Misuse by the calling code (a 31-byte key, a signer returning 12 bytes) raises
`ValueError`, not one of these. This module does not format errors for the CLI
and does not log.
"""

from __future__ import annotations

__all__ = [
    "DecryptionError",
    "EvidenceError",
    "FormatError",
    "KeyFileError",
    "NotARecipientError",
    "UnknownStreamError",
    "VerificationError",
]


class EvidenceError(Exception):
    """Root of every error raised on purpose by `lucid.evidence`."""


class FormatError(EvidenceError):
    """Input is malformed, of a foreign format, or truncated.

    The message names the file member and the field (for example
    ``manifest.json: manifest.chunks[3].hash: expected 64 lowercase hex digits``).
    """


class VerificationError(EvidenceError):
    """A well-formed piece of evidence fails its cryptographic check.

    Attributes:
        item: What failed, in a stable spelling a program may match on:
            ``"manifest.signature"``, ``"manifest.device"``, ``"chunk video.0#3"``,
            ``"tree.root"``, ``"proofs.root"``, ``"proof video.0#2"``,
            ``"member chunks/<hash>"``.
    """

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


class DecryptionError(EvidenceError):
    """A sealed chunk or a wrapped data key fails to decrypt or authenticate.

    Attributes:
        item: What failed: ``"chunk <stream>#<index>"`` or ``"recipients[<i>].sealed_key"``.
    """

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


class KeyFileError(EvidenceError):
    """A recipient key file is missing, unreadable, malformed or inconsistent."""


class NotARecipientError(EvidenceError):
    """The offered recipient key is not one the session's data key was wrapped to."""


class UnknownStreamError(EvidenceError):
    """A stream was asked for by name that the manifest does not declare."""
