"""Verify a session bundle end to end, offline, without any key.

Order of checks (the first failure is raised):

1. the archive structure and ``lucid-bundle.json`` (`open_bundle`);
2. ``manifest.json`` parses (v1 schema, canonical JSON);
3. the Ed25519 signature (item ``manifest.signature``), and, if the caller pins
   one, the device key (item ``manifest.device``);
3c. if the manifest carries a ``policy`` (sessions started through gatekeeper), it
   is a valid ``lucid.session-policy`` (else a format error) whose approvals verify
   (items ``policy.…``, see `SessionPolicy.verify`);
4. each chunk in leaf order: member present, size and leaf hash as listed
   (item ``chunk <stream>#<index>``);
5. the Merkle root recomputed from the listed hashes (item ``tree.root``);
6. ``proofs.json``: same size and root as the manifest (item ``proofs.root``), and
   every inclusion proof verifies for its chunk (item ``proof <stream>#<index>``);
7. no ``chunks/`` member that the manifest does not list (item ``member chunks/<hash>``);
8. if the bundle has ``anchor.json``: it parses (else a format error) and its offline
   checks pass (items ``anchor.…``, see `anchor.AnchorProof.check`). Whether the chain
   agrees is `anchor.verify_online`'s job (``lucid verify --rpc``).

Memory: chunks are hashed straight from the archive in `limits.READ_BLOCK` pieces and
never held whole, so what a verification costs is bounded by the format's limits, not
by the bundle: the member headers, the parsed ``manifest.json`` and ``proofs.json``
(each refused above its size and token limits before parsing): about 200 MiB for the
largest bundle the format allows, a few MiB for a typical one (docs/evidence.md §9.1).

This module does not decrypt (see `playback`), does not decide whether a device
key is trusted (pass `device_key` to pin one), does not require a policy (a
manifest with ``policy: null`` verifies, with ``report.approvals == 0``; whether to
accept such sessions is the caller's call), does not ask any chain, and does not verify
the reserved ``approvals/`` members (they are reported, not checked).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lucid.evidence.anchor import AnchorProof
from lucid.evidence.approvals import SessionPolicy
from lucid.evidence.bundle import ANCHOR_MEMBER, CHUNK_PREFIX, Bundle, open_bundle
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.manifest import Manifest
from lucid.evidence.tree import root, verify_inclusion
from lucid.evidence.trust import ApproverSeen

__all__ = ["VerifyReport", "verify_bundle"]


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification established.

    Attributes:
        path: The bundle file.
        session: Session name.
        chunk_count: Number of chunks (= tree size).
        total_bytes: Total sealed chunk bytes.
        tree_root: The verified Merkle root.
        device_ed25519: The key the manifest is signed with.
        complete: False if the recording ended abnormally (still verified).
        started_at: From the manifest.
        ended_at: From the manifest.
        unverified_members: Reserved members present but not checked by this version.
        approvals: Number of verified approval records in the manifest's policy
            (0 when the manifest carries no policy).
        approvers: Those records: account, method and passkey (judge them with
            `trust.assess`).
        has_policy: Whether the manifest carries a session policy.
        anchor: The anchor proof, checked offline, if the bundle has ``anchor.json``.
    """

    path: Path
    session: str
    chunk_count: int
    total_bytes: int
    tree_root: bytes
    device_ed25519: bytes
    complete: bool
    started_at: str
    ended_at: str
    unverified_members: tuple[str, ...]
    approvals: int = 0
    anchor: AnchorProof | None = None
    approvers: tuple[ApproverSeen, ...] = ()
    has_policy: bool = False


def _check_policy(manifest: Manifest) -> tuple[ApproverSeen, ...]:
    """Parse and verify the manifest's policy member; return its approval records."""
    if manifest.policy is None:
        return ()
    try:
        policy = SessionPolicy.from_dict(manifest.policy, "manifest.policy")
    except FormatError as err:
        raise FormatError(f"manifest.json: {err}") from None
    policy.verify(
        manifest.session, manifest.device.ed25519, manifest.started_at, manifest.ended_at
    )
    return tuple(
        ApproverSeen(
            account=r.account,
            method="passkey" if r.webauthn is not None else "password",
            public_key=None if r.webauthn is None else r.webauthn.public_key,
        )
        for r in policy.approvals
    )


def _check_chunks(
    bundle: Bundle, manifest: Manifest, progress: Callable[[int], None] | None
) -> None:
    # The leaf hashes are computed ahead by threads (`Bundle.chunk_leaf_hashes`), for the
    # chunks before the first one that is missing or of the wrong size; the checks still
    # run one chunk at a time in leaf order, so the first failure is the one raised.
    ahead: list[str] = []
    for c in manifest.chunks:
        if not bundle.has_chunk(c.hash_hex) or bundle.chunk_size(c.hash_hex) != c.size:
            break
        ahead.append(c.hash_hex)
    done = 0
    hashes = bundle.chunk_leaf_hashes(ahead)
    try:
        for c in manifest.chunks:
            if not bundle.has_chunk(c.hash_hex):
                raise VerificationError(
                    c.item, f"{c.item}: member {CHUNK_PREFIX}{c.hash_hex} is missing"
                )
            size = bundle.chunk_size(c.hash_hex)
            if size != c.size:
                raise VerificationError(
                    c.item, f"{c.item}: {size} bytes in the bundle, manifest says {c.size}"
                )
            if next(hashes) != c.hash:
                raise VerificationError(
                    c.item, f"{c.item}: content does not match its hash (altered or swapped)"
                )
            done += size
            if progress is not None:
                progress(done)
    finally:
        hashes.close()  # stops the threads before the bundle is read further or closed


def _check_proofs(bundle: Bundle, manifest: Manifest) -> None:
    proofs = bundle.read_proofs()
    if proofs.tree_size != manifest.tree_size or proofs.root != manifest.tree_root:
        raise VerificationError(
            "proofs.root", "proofs.json: tree size or root differs from the signed manifest"
        )
    for c, p in zip(manifest.chunks, proofs.proofs, strict=True):
        ok = p.hash == c.hash and verify_inclusion(
            c.hash, p.leaf, proofs.tree_size, p.path, manifest.tree_root
        )
        if not ok:
            item = f"proof {c.stream}#{c.index}"
            raise VerificationError(item, f"{item}: proofs[{p.leaf}] does not verify")


def verify_bundle(
    path: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
    *,
    device_key: bytes | None = None,
) -> VerifyReport:
    """Verify everything a bundle claims, in the documented order.

    Args:
        path: The ``.lucid`` file.
        progress: Called after each chunk with the chunk bytes checked so far
            (out of ``report.total_bytes``, which is also ``manifest.total_size``).
        device_key: If given, the Ed25519 public key the manifest must be signed
            with (the device the auditor expects); otherwise any self-consistent
            signature passes and the caller must judge ``report.device_ed25519``.

    Raises:
        FormatError: Not a bundle, or a member (including the manifest's policy)
            is malformed.
        VerificationError: A check failed; ``.item`` names what.
        OSError: The file cannot be read.

    Returns:
        The report.
    """
    with open_bundle(path) as bundle:
        signed = bundle.signed_manifest
        manifest = signed.manifest
        signed.verify_signature()
        if device_key is not None and manifest.device.ed25519 != device_key:
            raise VerificationError(
                "manifest.device",
                f"manifest.device: signed by device {manifest.device.ed25519.hex()[:16]}..., "
                f"not the expected {device_key.hex()[:16]}...",
            )
        approvers = _check_policy(manifest)
        _check_chunks(bundle, manifest, progress)
        if root([c.hash for c in manifest.chunks]) != manifest.tree_root:
            raise VerificationError(
                "tree.root", "tree.root: does not match the root of the listed chunk hashes"
            )
        _check_proofs(bundle, manifest)
        listed = {c.hash_hex for c in manifest.chunks}
        for extra in sorted(bundle.chunk_hashes - listed):
            item = f"member {CHUNK_PREFIX}{extra}"
            raise VerificationError(item, f"{item}: not listed in the manifest")
        anchor_bytes = bundle.read_anchor()
        anchor = None if anchor_bytes is None else AnchorProof.from_bytes(anchor_bytes)
        if anchor is not None:
            anchor.check(manifest)
        return VerifyReport(
            path=bundle.path,
            session=manifest.session,
            chunk_count=manifest.tree_size,
            total_bytes=manifest.total_size,
            tree_root=manifest.tree_root,
            device_ed25519=manifest.device.ed25519,
            complete=manifest.complete,
            started_at=manifest.started_at,
            ended_at=manifest.ended_at,
            unverified_members=tuple(m for m in bundle.reserved_members if m != ANCHOR_MEMBER),
            approvals=len(approvers),
            anchor=anchor,
            approvers=approvers,
            has_policy=manifest.policy is not None,
        )
