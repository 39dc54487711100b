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
"""

from __future__ import annotations

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
