"""The vectors about what a bundle says: trust roots, approvals, the grant's window,
signatures, chunks, proofs and the anchor. Each function writes its files through a
`Builder` and declares what `lucid verify` must answer (docs/evidence.md §10, §13.5, §15.4,
§16). The container vectors are in `_container`."""

from __future__ import annotations

from dataclasses import replace
from hashlib import sha256
from typing import Any

import cbor2
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    Proofs,
    SignedManifest,
    SoftPasskey,
    build_proofs,
    leaf_hash,
)
from lucid.evidence.approvals import b64u
from lucid.evidence.bundle import CHUNK_PREFIX, PROOFS_MEMBER
from lucid.evidence.proofs import LeafProof
from lucid.evidence.trust import TrustFile, device_fingerprint, rotation_message
from tests.evidence.approval_helpers import at, make_request, passkey_record
from tests.vectors import _forge as fg
from tests.vectors._build import (
    DEVICE_NAME,
    FP_A,
    FP_B,
    FP_FORGER,
    NO_POLICY,
    NOT_ANCHORED,
    Builder,
    anchored,
    by_passkey,
    by_password,
    in_trust_file,
    pinned,
    unpinned,
)

EXPORTED_AT = "2026-12-01T00:00:00.000Z"
CREATED_AT = "2026-11-01T00:00:00.000Z"
ERIN_SEED = bytes([0xE1]) * 32  # _forge.ERIN's private key
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def ed25519_cose(x: bytes) -> bytes:
    """The COSE_Key of Ed25519 public key `x` (kty OKP, alg EdDSA, crv Ed25519)."""
    return bytes(cbor2.dumps({1: 1, 3: -8, -1: 6, -2: x}, canonical=True))


def cose(key: SoftPasskey) -> str:
    return b64u(key.cose_public_key())


# --- trust files (docs/evidence.md §16) ------------------------------------------------------


def _approvers(*accounts: tuple[str, str, SoftPasskey | None]) -> list[dict[str, Any]]:
    return [
        {
            "account": account,
            "role": role,
            "credentials": []
            if key is None
            else [
                {
                    "id": b64u(key.credential_id),
                    "public_key": cose(key),
                    "created_at": CREATED_AT,
                }
            ],
        }
        for account, role, key in accounts
    ]


APPROVERS = (("alice", "owner", fg.ALICE), ("erin", "admin", fg.ERIN), ("carol", "admin", None))


def exported(device: nacl.signing.SigningKey, approvers: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``lucid trust export`` writes for `device` (through `TrustFile.from_device`)."""
    identity = {
        "ed25519": fg.public(device).hex(),
        "x25519": fg.DEVICE_X25519.hex(),
        "created_at": CREATED_AT,
        "name": DEVICE_NAME,
    }
    return TrustFile.from_device(identity, approvers, EXPORTED_AT).to_dict()


def history(*seeds: bytes, forge_last: bool = False) -> list[dict[str, Any]]:
    """A key history: each key handed on by the one before it (§16.1 rule 3); with
    `forge_last`, the last hand-over is signed by a stranger instead."""
    keys = [nacl.signing.SigningKey(s) for s in seeds]
    out: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        since = f"2026-11-{i + 1:02d}T00:00:00.000Z"
        rotation = None
        if i:
            signer = keys[i - 1]
            if forge_last and i == len(keys) - 1:
                signer = nacl.signing.SigningKey(bytes([0x0A]) * 32)
            message = rotation_message(
                fg.public(keys[i - 1]), fg.public(key), fg.DEVICE_X25519, since
            )
            rotation = signer.sign(message).signature.hex()
        out.append(
            {
                "ed25519": fg.public(key).hex(),
                "x25519": fg.DEVICE_X25519.hex(),
                "since": since,
                "rotation": rotation,
            }
        )
    return out


def trust_doc(keys: list[dict[str, Any]]) -> dict[str, Any]:
    doc = exported(fg.DEVICE_A, _approvers(*APPROVERS))
    doc["device"]["keys"] = keys
    doc["device"]["fingerprint"] = device_fingerprint(bytes.fromhex(keys[0]["ed25519"]))
    return doc


def trust_roots(b: Builder) -> None:
    """The genuine bundle against every kind of trust root (§10.1, §16)."""
    b.trust("device.trust.json", exported(fg.DEVICE_A, _approvers(*APPROVERS)))
    b.trust("other-device.trust.json", exported(fg.DEVICE_B, _approvers(*APPROVERS)))
    b.trust("bob-only.trust.json", exported(fg.DEVICE_A, _approvers(("bob", "owner", fg.BOB))))
    b.trust("rotated.trust.json", trust_doc(history(bytes([1]) * 32, fg.DEVICE_A.encode())))
    forged = history(bytes([1]) * 32, bytes([2]) * 32, fg.DEVICE_A.encode(), forge_last=True)
    b.trust("forged-rotation.trust.json", trust_doc(forged))
    high = history(bytes([1]) * 32, fg.DEVICE_A.encode())
    high[1]["rotation"] = fg.high_s(bytes.fromhex(high[1]["rotation"])).hex()
    b.trust("rotation-high-s.trust.json", trust_doc(high))
    mismatch = exported(fg.DEVICE_A, _approvers(*APPROVERS))
    mismatch["device"]["fingerprint"] = FP_B
    b.trust("fingerprint-mismatch.trust.json", mismatch)
    small = history(bytes([1]) * 32)
    small[0]["ed25519"] = fg.IDENTITY_POINT.hex()
    b.trust("small-order-key.trust.json", trust_doc(small))

    alice = f"alice={cose(fg.ALICE)}"
    g = "good.lucid"
    b.ok(
        "good",
        g,
        "genuine bundle, nothing pinned: the OK names the unpinned key",
        [unpinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
    )
    b.ok(
        "good-trust-file",
        g,
        "genuine bundle against its device's trust file",
        [in_trust_file(), by_passkey("alice", "trusted"), NOT_ANCHORED],
        "--trust",
        "device.trust.json",
    )
    b.ok(
        "good-device-fingerprint",
        g,
        "device pinned by its fingerprint; approver not pinned",
        [pinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
        "--device-key",
        FP_A,
    )
    b.ok(
        "good-device-key",
        g,
        "device pinned by its full Ed25519 key (64 hex digits)",
        [pinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
        "--device-key",
        fg.public(fg.DEVICE_A).hex(),
    )
    b.ok(
        "good-approver-pin",
        g,
        "alice's passkey pinned by hand; device not pinned",
        [unpinned(), by_passkey("alice", "trusted"), NOT_ANCHORED],
        "--approver",
        alice,
    )
    b.ok(
        "good-rotated-trust-file",
        g,
        "trust file whose identity handed the device key on (a valid rotation statement)",
        [in_trust_file(), by_passkey("alice", "trusted"), NOT_ANCHORED],
        "--trust",
        "rotated.trust.json",
    )
    b.fails(
        "good-approver-pin-other-account",
        g,
        "alice's passkey pinned under another account",
        "trust.approvals[0]",
        "--approver",
        f"mallory={cose(fg.ALICE)}",
    )
    b.fails(
        "good-other-device-trust-file",
        g,
        "another device's trust file",
        "trust.device",
        "--trust",
        "other-device.trust.json",
    )
    b.fails(
        "good-other-device-pin",
        g,
        "another device's fingerprint pinned",
        "trust.device",
        "--device-key",
        FP_B,
    )
    b.fails(
        "good-approver-not-in-trust-file",
        g,
        "the device's trust file lists bob, not alice: her approval is not rooted in it",
        "trust.approvals[0]",
        "--trust",
        "bob-only.trust.json",
    )
    b.refused(
        "trust-file-forged-rotation",
        g,
        "trust file whose last key was handed on by a stranger, not the key before it",
        "not signed by device.keys[1]",
        "--trust",
        "forged-rotation.trust.json",
    )
    b.refused(
        "trust-file-rotation-high-s",
        g,
        "trust file whose rotation statement has S + L for S (not canonical)",
        "device.keys[1].rotation",
        "--trust",
        "rotation-high-s.trust.json",
    )
    b.refused(
        "trust-file-fingerprint-mismatch",
        g,
        "trust file whose device.fingerprint is not its first key's",
        "device.fingerprint",
        "--trust",
        "fingerprint-mismatch.trust.json",
    )
    b.refused(
        "trust-file-small-order-key",
        g,
        "trust file whose identity is the identity point (small order)",
        "device.keys[0].ed25519",
        "--trust",
        "small-order-key.trust.json",
    )


def approvals(b: Builder) -> None:
    """Approvals: the kinds that verify, and ones moved or forged (§13.4, §13.5)."""
    request = make_request(fg.SESSION)
    erin = fg.passkey_approval(fg.ERIN, "erin", request)
    b.bundle("ed25519-passkey.lucid", _signed(b, [erin]))
    b.ok(
        "ed25519-passkey",
        "ed25519-passkey.lucid",
        "approved by an Ed25519 passkey",
        [unpinned(), by_passkey("erin", "unknown"), NOT_ANCHORED],
    )
    b.ok(
        "ed25519-passkey-trust-file",
        "ed25519-passkey.lucid",
        "approved by an Ed25519 passkey, against the trust file",
        [in_trust_file(), by_passkey("erin", "trusted"), NOT_ANCHORED],
        "--trust",
        "device.trust.json",
    )

    alice = fg.passkey_approval(fg.ALICE, "alice", request)
    assert alice.webauthn is not None
    r, s = decode_dss_signature(alice.webauthn.signature)
    flipped = replace(alice.webauthn, signature=encode_dss_signature(r, P256_N - s))
    b.bundle("es256-high-s.lucid", _signed(b, [replace(alice, webauthn=flipped)]))
    b.ok(
        "es256-high-s",
        "es256-high-s.lucid",
        "ES256 approval whose s is n - s (high S): accepted, authenticators do not normalise",
        [unpinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
    )

    open_policy = replace(DEFAULT_POLICY, allow_password_approval=True)
    carol = fg.password_approval("carol", request, policy=open_policy)
    policy = fg.session_policy(request, [carol], policy=open_policy)
    b.bundle("password-approval.lucid", fg.sign(fg.manifest(b.rec, policy=policy)))
    b.ok(
        "password-approval",
        "password-approval.lucid",
        "a password approval under a policy that allows them: the device's word",
        [unpinned(), by_password("carol", "unknown"), NOT_ANCHORED],
    )
    b.ok(
        "password-approval-trust-file",
        "password-approval.lucid",
        "a password approval, its account in the trust file and the device trusted",
        [in_trust_file(), by_password("carol", "trusted"), NOT_ANCHORED],
        "--trust",
        "device.trust.json",
    )
    carol = fg.password_approval("carol", request)
    b.bundle("password-approval-refused.lucid", _signed(b, [carol]))
    b.fails(
        "password-approval-refused",
        "password-approval-refused.lucid",
        "a password approval under the default policy, which allows none",
        "policy.approvals[0].document.approver.method",
    )

    b.bundle("no-policy.lucid", fg.sign(fg.manifest(b.rec)))
    b.ok(
        "no-policy",
        "no-policy.lucid",
        "recorded without gatekeeper: policy null",
        [unpinned(), NO_POLICY, NOT_ANCHORED],
    )
    b.ok(
        "no-policy-trust-file",
        "no-policy.lucid",
        "policy null against the trust file: nothing to root but the device",
        [in_trust_file(), NO_POLICY, NOT_ANCHORED],
        "--trust",
        "device.trust.json",
    )

    # Moved approvals.
    policy = fg.approved_by_alice()
    b.bundle("other-session.lucid", fg.sign(fg.manifest(b.rec2, policy=policy)), store=b.rec2.store)
    b.fails(
        "approval-from-other-session",
        "other-session.lucid",
        "device A's session s-vector-2 carries the session policy of s-vector",
        "policy.request.id",
    )
    moved = dict(policy, request=make_request(fg.OTHER_SESSION).to_dict())
    b.bundle(
        "other-session-request.lucid",
        fg.sign(fg.manifest(b.rec2, policy=moved)),
        store=b.rec2.store,
    )
    b.fails(
        "approval-from-other-session-request",
        "other-session-request.lucid",
        "as above with the policy's request rewritten to s-vector-2: the signed approval "
        "document still names s-vector's request",
        "policy.approvals[0].document.request",
    )
    other = fg.manifest(b.rec, device=fg.public(fg.DEVICE_B), policy=policy)
    b.bundle("other-device.lucid", fg.sign(other, fg.DEVICE_B))
    b.fails(
        "approval-from-other-device",
        "other-device.lucid",
        "device B signs its own recording of s-vector carrying device A's approval",
        "policy.approvals[0].document.device",
    )

    # Forged or altered approvals.
    assert erin.webauthn is not None
    forged = replace(
        erin.webauthn,
        public_key=ed25519_cose(fg.IDENTITY_POINT),
        signature=fg.IDENTITY_POINT + bytes(32),
    )
    b.bundle("small-order-passkey.lucid", _signed(b, [replace(erin, webauthn=forged)]))
    b.fails(
        "small-order-passkey",
        "small-order-passkey.lucid",
        "Ed25519 passkey of small order (the identity) with R = identity, S = 0: "
        "satisfies the equation for any message",
        "policy.approvals[0].public_key",
    )
    signed = erin.webauthn.authenticator_data + sha256(erin.webauthn.client_data_json).digest()
    mixed_key, mixed_sig = fg.mixed_order_sign(ERIN_SEED, signed)
    mixed = replace(erin.webauthn, public_key=ed25519_cose(mixed_key), signature=mixed_sig)
    b.bundle("mixed-order-passkey.lucid", _signed(b, [replace(erin, webauthn=mixed)]))
    b.fails(
        "mixed-order-passkey",
        "mixed-order-passkey.lucid",
        "erin's key plus a point of order 8, with a signature that satisfies the "
        "cofactorless equation (libsodium's verify accepts it)",
        "policy.approvals[0].public_key",
    )
    high = replace(erin.webauthn, signature=fg.high_s(erin.webauthn.signature))
    b.bundle("ed25519-passkey-high-s.lucid", _signed(b, [replace(erin, webauthn=high)]))
    b.fails(
        "ed25519-passkey-high-s",
        "ed25519-passkey-high-s.lucid",
        "erin's Ed25519 signature with S + L for S (not canonical)",
        "policy.approvals[0].signature",
    )
    edited = dict(erin.document, issued_at=at(19))
    b.bundle("approval-document-edited.lucid", _signed(b, [replace(erin, document=edited)]))
    b.fails(
        "approval-document-edited",
        "approval-document-edited.lucid",
        "the approval document's issued_at edited after the passkey signed it",
        "policy.approvals[0].client_data_json.challenge",
    )
    no_uv = passkey_record(
        fg.ERIN,
        request,
        "erin",
        user_verified=False,
        nonce=bytes(16),
        device=fg.public(fg.DEVICE_A),
    )
    b.bundle("approval-without-uv.lucid", _signed(b, [no_uv]))
    b.fails(
        "approval-without-uv",
        "approval-without-uv.lucid",
        "the authenticator did not verify the user; the policy requires it",
        "policy.approvals[0].authenticator_data.flags.uv",
    )


def _signed(b: Builder, records: list[ApprovalRecord]) -> SignedManifest:
    policy = fg.session_policy(make_request(fg.SESSION), records)
    return fg.sign(fg.manifest(b.rec, policy=policy))


def grant_window(b: Builder) -> None:
    """The recording within its grant: approved at T0+21 s, expires 3600 s later,
    max_duration_s 3600, 60 s of slack after each limit (§13.5 checks 3a, 3b)."""
    cases = [
        (
            "started-before-approval",
            at(10),
            at(70),
            "session.started_at",
            "recording started at T0+10 s, before the grant at T0+21 s",
        ),
        (
            "started-after-expiry",
            at(3682),
            at(3742),
            "session.started_at",
            "recording started 61 s after the grant expired",
        ),
        (
            "started-at-expiry-slack",
            at(3681),
            at(3741),
            None,
            "recording started exactly 60 s after the grant expired: within the slack",
        ),
        (
            "past-max-duration",
            at(30),
            at(30 + 3661),
            "session.ended_at",
            "recording ran max_duration_s + 61 s",
        ),
        (
            "ended-at-duration-slack",
            at(30),
            at(30 + 3660),
            None,
            "recording ran exactly max_duration_s + 60 s: within the slack",
        ),
    ]
    for name, started, ended, item, about in cases:
        m = fg.manifest(b.rec, policy=fg.approved_by_alice(), started=started, ended=ended)
        b.bundle(f"{name}.lucid", fg.sign(m))
        if item is None:
            b.ok(
                name,
                f"{name}.lucid",
                about,
                [unpinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
            )
        else:
            b.fails(name, f"{name}.lucid", about, item)


def signatures(b: Builder) -> None:
    """The manifest signature under strict Ed25519 (§1.1, §7), and re-signed bundles."""
    m = b.good.manifest
    altered = replace(b.good, manifest=replace(m, ended_at=at(31 + 42 * 60)))
    b.packed("manifest-altered.lucid", b.members(altered), altered)
    b.fails(
        "manifest-altered",
        "manifest-altered.lucid",
        "ended_at edited after signing",
        "manifest.signature",
    )
    high = replace(b.good, signature=fg.high_s(b.good.signature))
    b.packed("manifest-high-s.lucid", b.members(high), high)
    b.fails(
        "manifest-high-s",
        "manifest-high-s.lucid",
        "the device's signature with S + L for S (not canonical)",
        "manifest.signature",
    )
    bare = fg.manifest(b.rec)
    weak = fg.small_order_signed(bare)
    b.packed("manifest-small-order-key.lucid", b.members(weak), weak)
    b.fails(
        "manifest-small-order-key",
        "manifest-small-order-key.lucid",
        "manifest 'signed' by the identity point with R = identity, S = 0",
        "manifest.signature",
    )
    mixed = fg.mixed_order_signed(bare, bytes([0x0E]) * 32)
    b.packed("manifest-mixed-order-key.lucid", b.members(mixed), mixed)
    b.fails(
        "manifest-mixed-order-key",
        "manifest-mixed-order-key.lucid",
        "manifest signed by a mixed-order key (a genuine key plus a point of order 8); "
        "the signature satisfies the cofactorless equation (libsodium's verify accepts it)",
        "manifest.signature",
    )

    dropped = fg.manifest(
        b.rec, device=fg.public(fg.FORGER), policy=fg.approved_by_alice(), drop="audit"
    )
    b.bundle("resigned-drop-audit.lucid", fg.sign(dropped, fg.FORGER))
    b.fails(
        "resigned-drop-audit",
        "resigned-drop-audit.lucid",
        "audit stream dropped, re-signed by another key, alice's genuine approval kept",
        "policy.approvals[0].document.device",
    )
    bare_forged = fg.manifest(b.rec, device=fg.public(fg.FORGER), drop="audit")
    b.bundle("resigned-no-policy.lucid", fg.sign(bare_forged, fg.FORGER))
    f = "resigned-no-policy.lucid"
    b.ok(
        "resigned-no-policy",
        f,
        "audit dropped, policy removed, re-signed by another key: consistent with itself, "
        "and the OK names the stranger's key",
        [unpinned(FP_FORGER), NO_POLICY, NOT_ANCHORED],
    )
    b.fails(
        "resigned-no-policy-trust-file",
        f,
        "the same against the device's trust file",
        "trust.device",
        "--trust",
        "device.trust.json",
    )
    b.fails(
        "resigned-no-policy-pinned",
        f,
        "the same with the device's fingerprint pinned",
        "trust.device",
        "--device-key",
        FP_A,
    )


def chunks_and_proofs(b: Builder) -> None:
    """Chunks, the tree and the proofs (§10 steps 4-7)."""
    items = b.members()
    chunk_at = {name: i for i, (name, _) in enumerate(items)}
    video1 = next(c for c in b.good.manifest.chunks if (c.stream, c.index) == ("video.0", 1))
    audit0 = next(c for c in b.good.manifest.chunks if c.stream == "audit")
    i = chunk_at[CHUNK_PREFIX + video1.hash_hex]
    data = bytearray(items[i][1])
    data[len(data) // 2] ^= 0x01
    tampered = list(items)
    tampered[i] = (items[i][0], bytes(data))
    b.packed("chunk-tampered.lucid", tampered, b.good)
    b.fails(
        "chunk-tampered",
        "chunk-tampered.lucid",
        "one bit of chunk video.0#1 flipped",
        "chunk video.0#1",
    )
    missing = [m for m in items if m[0] != CHUNK_PREFIX + audit0.hash_hex]
    b.packed("chunk-missing.lucid", missing, b.good)
    b.fails(
        "chunk-missing", "chunk-missing.lucid", "member of chunk audit#0 left out", "chunk audit#0"
    )
    extra = bytes(range(64))
    b.packed("chunk-extra.lucid", [*items, (CHUNK_PREFIX + leaf_hash(extra).hex(), extra)], b.good)
    b.fails(
        "chunk-extra",
        "chunk-extra.lucid",
        "an extra chunks/ member the manifest does not list",
        f"member {CHUNK_PREFIX}{leaf_hash(extra).hex()}",
    )
    b.packed("chunk-order.lucid", [*items[:3], *reversed(items[3:])], b.good)
    b.ok(
        "chunk-order",
        "chunk-order.lucid",
        "chunk members in reverse order: the order of members after proofs.json is free",
        [unpinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
    )

    incomplete = fg.sign(fg.manifest(b.rec, policy=fg.approved_by_alice(), complete=False))
    b.bundle("incomplete.lucid", incomplete)
    b.ok(
        "incomplete",
        "incomplete.lucid",
        "complete: false (the recorder did not stop cleanly): verifies, and the OK says so",
        [unpinned(), by_passkey("alice", "unknown"), NOT_ANCHORED],
        suffix=" (recording ended abnormally)",
    )

    m = b.good.manifest
    wrong_root = fg.sign(replace(m, tree_root=leaf_hash(b"not the root")))
    b.packed(
        "tree-root.lucid", fg.members(wrong_root, b.rec.store, proofs=build_proofs(m)), wrong_root
    )
    b.fails(
        "tree-root",
        "tree-root.lucid",
        "manifest signed by the device with a tree.root that is not the chunks' root",
        "tree.root",
    )
    proofs = build_proofs(m)
    other_root = replace(proofs, root=leaf_hash(b"another root"))
    b.packed("proofs-root.lucid", _with(items, PROOFS_MEMBER, other_root), b.good)
    b.fails("proofs-root", "proofs-root.lucid", "proofs.json names another root", "proofs.root")
    first = proofs.proofs[0]
    bent = LeafProof(first.leaf, first.hash, (leaf_hash(b"bent"), *first.path[1:]))
    bent_proofs = replace(proofs, proofs=(bent, *proofs.proofs[1:]))
    b.packed("proof-path.lucid", _with(items, PROOFS_MEMBER, bent_proofs), b.good)
    b.fails(
        "proof-path",
        "proof-path.lucid",
        "the inclusion proof of video.0#0 altered",
        "proof video.0#0",
    )


def _with(items: list[fg.Member], name: str, value: Proofs) -> list[fg.Member]:
    return [(n, value.to_bytes() if n == name else d) for n, d in items]


def anchors(b: Builder) -> None:
    """``anchor.json`` (§15.4): what the offline checks catch, and what only --rpc can."""
    m = b.good.manifest
    proof = fg.anchor_for(m)
    lines = [unpinned(), by_passkey("alice", "unknown")]
    b.bundle("anchored.lucid", b.good, anchor=proof.to_bytes())
    b.ok(
        "anchored",
        "anchored.lucid",
        "with a genuine anchor proof, not checked online",
        [*lines, anchored(42)],
    )
    cases = [
        (
            "anchor-session-root",
            replace(proof, session_root=leaf_hash(b"x")),
            "anchor.session_root",
            "anchor.json's session_root edited",
        ),
        (
            "anchor-batch-root",
            replace(proof, batch_root=leaf_hash(b"y")),
            "anchor.path",
            "anchor.json's batch_root edited",
        ),
        (
            "anchor-device",
            replace(proof, device="0x" + "5b" * 20),
            "anchor.binding",
            "anchor.json's device address edited (its binding no longer verifies)",
        ),
        (
            "anchor-binding-high-s",
            replace(proof, binding=fg.high_s(proof.binding)),
            "anchor.binding",
            "the binding signature with S + L for S (not canonical)",
        ),
    ]
    for name, edited, item, about in cases:
        b.bundle(f"{name}.lucid", b.good, anchor=edited.to_bytes())
        b.fails(name, f"{name}.lucid", about, item)
    b.bundle("anchor-block-edited.lucid", b.good, anchor=replace(proof, block_number=43).to_bytes())
    b.ok(
        "anchor-block-edited",
        "anchor-block-edited.lucid",
        "anchor.json's block_number edited: the chain fields are checked only online "
        "(--rpc), and the OK says it was not checked",
        [*lines, anchored(43)],
    )


ALL = (trust_roots, approvals, grant_window, signatures, chunks_and_proofs, anchors)
