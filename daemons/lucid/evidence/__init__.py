"""Lucid's evidence formats: write them, and check them offline.

Canonical JSON (RFC 8785), the BLAKE3 Merkle tree (RFC 9162 shape), chunk AEAD
(XChaCha20-Poly1305) and data-key wrapping (sealed boxes), recipient key files,
the signed manifest, inclusion proofs, the ``.lucid`` bundle, its verifier and
playback decryption; the approval records a manifest carries and their offline
check (`approvals`), and a software passkey to make them with (`softpasskey`). The
byte-level specification is docs/evidence.md (and docs/approvals.md).

This package imports only the standard library, PyNaCl, blake3, rfc8785,
zstandard, cbor2 and cryptography: it never touches D-Bus, a daemon or another
``lucid`` package, so an auditor can lift it out alone. It holds no device signing
key (signing takes a callable) and does not compress chunks or remux video.

Names load lazily (PEP 562): a daemon importing one submodule (say ``crypto``) does not
pay for the approvals verifier's dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lucid.evidence.approvals import (
        DEFAULT_POLICY,
        ApprovalRecord,
        Grant,
        Policy,
        Request,
        Scope,
        SessionPolicy,
        WebAuthnAssertion,
        approval_challenge,
        approval_document,
        default_policy,
        policy_hash,
        verify_assertion,
    )
    from lucid.evidence.build import build_manifest
    from lucid.evidence.bundle import BUNDLE_SUFFIX, Bundle, open_bundle
    from lucid.evidence.canonical import canonical_json, parse_json
    from lucid.evidence.crypto import (
        chunk_ad,
        fingerprint,
        new_data_key,
        open_chunk,
        seal_chunk,
        unwrap_key,
        wrap_key,
    )
    from lucid.evidence.errors import (
        DecryptionError,
        EvidenceError,
        FormatError,
        KeyFileError,
        NotARecipientError,
        UnknownStreamError,
        VerificationError,
    )
    from lucid.evidence.keyfile import RecipientKey
    from lucid.evidence.manifest import (
        ChunkEntry,
        DeviceKeys,
        Encoder,
        Manifest,
        Recipient,
        StreamInfo,
    )
    from lucid.evidence.playback import data_key_for, decrypt_stream, write_stream
    from lucid.evidence.proofs import LeafProof, Proofs, build_proofs
    from lucid.evidence.signed import SignedManifest, signing_message
    from lucid.evidence.softpasskey import SoftPasskey
    from lucid.evidence.timestamps import parse_timestamp, utc_timestamp
    from lucid.evidence.tree import (
        all_proofs,
        inclusion_proof,
        leaf_hash,
        node_hash,
        root,
        verify_inclusion,
    )
    from lucid.evidence.verify import VerifyReport, verify_bundle
    from lucid.evidence.writer import write_bundle, write_bundle_stream

_WHERE: dict[str, str] = {
    "DEFAULT_POLICY": "lucid.evidence.approvals",
    "ApprovalRecord": "lucid.evidence.approvals",
    "Grant": "lucid.evidence.approvals",
    "Policy": "lucid.evidence.approvals",
    "Request": "lucid.evidence.approvals",
    "Scope": "lucid.evidence.approvals",
    "SessionPolicy": "lucid.evidence.approvals",
    "WebAuthnAssertion": "lucid.evidence.approvals",
    "approval_challenge": "lucid.evidence.approvals",
    "approval_document": "lucid.evidence.approvals",
    "default_policy": "lucid.evidence.approvals",
    "policy_hash": "lucid.evidence.approvals",
    "verify_assertion": "lucid.evidence.approvals",
    "build_manifest": "lucid.evidence.build",
    "BUNDLE_SUFFIX": "lucid.evidence.bundle",
    "Bundle": "lucid.evidence.bundle",
    "open_bundle": "lucid.evidence.bundle",
    "canonical_json": "lucid.evidence.canonical",
    "parse_json": "lucid.evidence.canonical",
    "chunk_ad": "lucid.evidence.crypto",
    "fingerprint": "lucid.evidence.crypto",
    "new_data_key": "lucid.evidence.crypto",
    "open_chunk": "lucid.evidence.crypto",
    "seal_chunk": "lucid.evidence.crypto",
    "unwrap_key": "lucid.evidence.crypto",
    "wrap_key": "lucid.evidence.crypto",
    "DecryptionError": "lucid.evidence.errors",
    "EvidenceError": "lucid.evidence.errors",
    "FormatError": "lucid.evidence.errors",
    "KeyFileError": "lucid.evidence.errors",
    "NotARecipientError": "lucid.evidence.errors",
    "UnknownStreamError": "lucid.evidence.errors",
    "VerificationError": "lucid.evidence.errors",
    "RecipientKey": "lucid.evidence.keyfile",
    "ChunkEntry": "lucid.evidence.manifest",
    "DeviceKeys": "lucid.evidence.manifest",
    "Encoder": "lucid.evidence.manifest",
    "Manifest": "lucid.evidence.manifest",
    "Recipient": "lucid.evidence.manifest",
    "StreamInfo": "lucid.evidence.manifest",
    "data_key_for": "lucid.evidence.playback",
    "decrypt_stream": "lucid.evidence.playback",
    "write_stream": "lucid.evidence.playback",
    "LeafProof": "lucid.evidence.proofs",
    "Proofs": "lucid.evidence.proofs",
    "build_proofs": "lucid.evidence.proofs",
    "SignedManifest": "lucid.evidence.signed",
    "signing_message": "lucid.evidence.signed",
    "SoftPasskey": "lucid.evidence.softpasskey",
    "parse_timestamp": "lucid.evidence.timestamps",
    "utc_timestamp": "lucid.evidence.timestamps",
    "all_proofs": "lucid.evidence.tree",
    "inclusion_proof": "lucid.evidence.tree",
    "leaf_hash": "lucid.evidence.tree",
    "node_hash": "lucid.evidence.tree",
    "root": "lucid.evidence.tree",
    "verify_inclusion": "lucid.evidence.tree",
    "VerifyReport": "lucid.evidence.verify",
    "verify_bundle": "lucid.evidence.verify",
    "write_bundle": "lucid.evidence.writer",
    "write_bundle_stream": "lucid.evidence.writer",
}

__all__ = [
    "BUNDLE_SUFFIX",
    "DEFAULT_POLICY",
    "ApprovalRecord",
    "Bundle",
    "ChunkEntry",
    "DecryptionError",
    "DeviceKeys",
    "Encoder",
    "EvidenceError",
    "FormatError",
    "Grant",
    "KeyFileError",
    "LeafProof",
    "Manifest",
    "NotARecipientError",
    "Policy",
    "Proofs",
    "Recipient",
    "RecipientKey",
    "Request",
    "Scope",
    "SessionPolicy",
    "SignedManifest",
    "SoftPasskey",
    "StreamInfo",
    "UnknownStreamError",
    "VerificationError",
    "VerifyReport",
    "WebAuthnAssertion",
    "all_proofs",
    "approval_challenge",
    "approval_document",
    "build_manifest",
    "build_proofs",
    "canonical_json",
    "chunk_ad",
    "data_key_for",
    "decrypt_stream",
    "default_policy",
    "fingerprint",
    "inclusion_proof",
    "leaf_hash",
    "new_data_key",
    "node_hash",
    "open_bundle",
    "open_chunk",
    "parse_json",
    "parse_timestamp",
    "policy_hash",
    "root",
    "seal_chunk",
    "signing_message",
    "unwrap_key",
    "utc_timestamp",
    "verify_assertion",
    "verify_bundle",
    "verify_inclusion",
    "wrap_key",
    "write_bundle",
    "write_bundle_stream",
    "write_stream",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
