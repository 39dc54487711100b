"""What the vector generator builds bundles from: fixed keys and passkeys, a recorded
session, approvals, manifests signed (or forged), anchor proofs, and bundles written by the
real writer or packed member by member.

Real library code throughout (`lucid.evidence`): sealing, manifests, signatures, approval
documents signed through `SoftPasskey`, proofs, anchor proofs and `write_bundle`. Every key,
passkey, approval nonce, time and plaintext is fixed. What the library draws at random and
does not let a caller inject stays random: each chunk's AEAD nonce, each recipient's sealed
data key (libsodium's sealed box) and ES256 signatures; so bundle bytes differ from one run
to the next while every verdict stays the same (the committed files are the reference).

This module does not decide what a vector expects (`generate` does) and does not edit
archives below the member level (`_tar`).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import nacl.bindings as sodium
import nacl.public
import nacl.signing
import zstandard

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    ChunkEntry,
    DeviceKeys,
    Encoder,
    Manifest,
    Policy,
    Recipient,
    Request,
    SessionPolicy,
    SignedManifest,
    SoftPasskey,
    StreamInfo,
    build_manifest,
    build_proofs,
    canonical_json,
    leaf_hash,
    seal_chunk,
    wrap_key,
)
from lucid.evidence.anchor import AnchorProof, anchor_leaf, batch_path, batch_root, binding_message
from lucid.evidence.bundle import (
    ANCHOR_MEMBER,
    BUNDLE_FORMAT,
    CHUNK_PREFIX,
    HEADER_MEMBER,
    MANIFEST_MEMBER,
    PROOFS_MEMBER,
)
from lucid.evidence.manifest import Compression, StreamKind
from lucid.evidence.proofs import Proofs
from lucid.evidence.signed import signing_message
from lucid.evidence.writer import bundle_mtime
from tests.evidence.approval_helpers import (
    DEVICE_SEED,
    at,
    make_grant,
    make_request,
    passkey_record,
    password_record,
)
from tests.evidence.helpers import payload

Member = tuple[str, bytes]

DEVICE_A = nacl.signing.SigningKey(DEVICE_SEED)
"""The genuine device (seed ``07`` x 32, tests/evidence/approval_helpers.DEVICE_SEED)."""
DEVICE_B = nacl.signing.SigningKey(bytes([0x08]) * 32)
"""Another genuine device (seed ``08`` x 32)."""
FORGER = nacl.signing.SigningKey(bytes([0x0F]) * 32)
"""Someone who re-signs a genuine bundle (seed ``0f`` x 32)."""
DEVICE_X25519 = bytes(nacl.public.PrivateKey(bytes([0x09]) * 32).public_key)
RECIPIENT = nacl.public.PrivateKey(bytes([0x0C]) * 32)
"""The one recipient the data key is sealed to (X25519 secret ``0c`` x 32)."""
RECIPIENT_PUBLIC = bytes(RECIPIENT.public_key)
DATA_KEY = bytes([0x0D]) * 32

ALICE = SoftPasskey("ES256", bytes([0xA1]) * 32, b"alice-passkey")
"""alice's passkey: ES256, as most real authenticators."""
ERIN = SoftPasskey("Ed25519", bytes([0xE1]) * 32, b"erin-passkey")
"""erin's passkey: Ed25519, as Chromium's virtual authenticator."""
BOB = SoftPasskey("ES256", bytes([0xB1]) * 32, b"bob-passkey")
"""bob's passkey: in a trust file, never in a bundle."""

SESSION = "s-vector"
OTHER_SESSION = "s-vector-2"
STARTED = at(30)  # the grant is made at T0 + 21 s (approval_helpers.make_grant)
ENDED = at(30 + 42 * 60)
LAYOUT: Mapping[str, Sequence[int]] = {"video.0": [600, 200], "audit": [160]}
ENCODER = Encoder(name="libx264", settings={"preset": "veryfast", "crf": "28"})

ED25519_L = 2**252 + 27742317777372353535851937790883648493
IDENTITY_POINT = (1).to_bytes(32, "little")
ORDER_8_POINT = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


def public(key: nacl.signing.SigningKey) -> bytes:
    return bytes(key.verify_key)


@dataclass(frozen=True)
class Recording:
    """A session's sealed chunks, as the chunk store holds them."""

    session: str
    streams: tuple[StreamInfo, ...]
    chunks: tuple[ChunkEntry, ...]
    store: Mapping[str, bytes]  # leaf-hash hex -> sealed bytes


def record(session: str, layout: Mapping[str, Sequence[int]] = LAYOUT) -> Recording:
    """Seal a session's chunks (video zstd, audit stored) under `DATA_KEY`."""
    streams: list[StreamInfo] = []
    entries: list[ChunkEntry] = []
    store: dict[str, bytes] = {}
    for stream, sizes in layout.items():
        kind: StreamKind = "audit" if stream == "audit" else "video"
        media = "application/jsonl" if kind == "audit" else "video/mp4"
        streams.append(StreamInfo(name=stream, kind=kind, media_type=media, chunks=len(sizes)))
        for index, size in enumerate(sizes):
            plain = payload(stream, index, size)
            compression: Compression = "none" if kind == "audit" else "zstd"
            body = zstandard.ZstdCompressor().compress(plain) if compression == "zstd" else plain
            sealed = seal_chunk(DATA_KEY, session, stream, index, body)
            digest = leaf_hash(sealed)
            store[digest.hex()] = sealed
            entries.append(ChunkEntry(stream, index, digest, len(sealed), size, compression))
    return Recording(session, tuple(streams), tuple(entries), store)


# --- approvals ---------------------------------------------------------------------------


def _nonce(request: Request, account: str) -> bytes:
    return hashlib.sha256(f"{request.id}/{account}".encode()).digest()[:16]


def passkey_approval(
    key: SoftPasskey,
    account: str,
    request: Request,
    *,
    device: bytes | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> ApprovalRecord:
    """`account` approves `request` on `device` (default: device A) with `key`."""
    return passkey_record(
        key,
        request,
        account,
        policy=policy,
        nonce=_nonce(request, account),
        device=public(DEVICE_A) if device is None else device,
    )


def password_approval(
    account: str, request: Request, *, policy: Policy = DEFAULT_POLICY
) -> ApprovalRecord:
    return password_record(request, account, policy=policy)


def session_policy(
    request: Request,
    records: Sequence[ApprovalRecord],
    *,
    policy: Policy = DEFAULT_POLICY,
) -> dict[str, object]:
    """The manifest's ``policy`` member: `records` approving `request`, granted at T0+21 s."""
    return SessionPolicy.create(policy, request, make_grant(), records).to_dict()


def approved_by_alice(session: str = SESSION) -> dict[str, object]:
    request = make_request(session)
    return session_policy(request, [passkey_approval(ALICE, "alice", request)])


# --- manifests -----------------------------------------------------------------------------


def manifest(
    rec: Recording,
    *,
    device: bytes | None = None,
    policy: Mapping[str, object] | None = None,
    started: str = STARTED,
    ended: str = ENDED,
    complete: bool = True,
    drop: str | None = None,
) -> Manifest:
    """The manifest of `rec` (stream `drop` left out), naming `device` (default A)."""
    return build_manifest(
        session=rec.session,
        device=DeviceKeys(
            ed25519=public(DEVICE_A) if device is None else device, x25519=DEVICE_X25519
        ),
        started_at=started,
        ended_at=ended,
        encoder=ENCODER,
        streams=[s for s in rec.streams if s.name != drop],
        chunks=[c for c in rec.chunks if c.stream != drop],
        recipients=[Recipient(RECIPIENT_PUBLIC, wrap_key(DATA_KEY, RECIPIENT_PUBLIC))],
        policy=policy,
        complete=complete,
    )


def sign(m: Manifest, key: nacl.signing.SigningKey = DEVICE_A) -> SignedManifest:
    """Sign for real (`SignedManifest.sign` checks the result)."""
    return SignedManifest.sign(m, lambda msg: key.sign(msg).signature)


def mixed_order_sign(seed: bytes, message: bytes) -> tuple[bytes, bytes]:
    """Sign `message` under a *mixed-order* key A' = A + T (A = `seed`'s key, T of order 8)
    so that the cofactorless equation [S]B = R + [k]A' holds: the nonce is re-drawn until
    k = SHA-512(R || A' || M) mod L is a multiple of 8, so [k]T vanishes. A verifier that
    checks only the equation and the small-order list accepts it (libsodium's verify does).

    Returns:
        (A', signature).
    """
    digest = hashlib.sha512(seed).digest()
    scalar = bytearray(digest[:32])
    scalar[0] &= 248
    scalar[31] &= 127
    scalar[31] |= 64
    a = int.from_bytes(scalar, "little")
    mixed = sodium.crypto_core_ed25519_add(public(nacl.signing.SigningKey(seed)), ORDER_8_POINT)
    for counter in range(1000):
        nonce = hashlib.sha512(digest[32:] + message + bytes([counter])).digest()
        r = int.from_bytes(nonce, "little") % ED25519_L
        big_r = sodium.crypto_scalarmult_ed25519_base_noclamp(r.to_bytes(32, "little"))
        k = int.from_bytes(hashlib.sha512(big_r + mixed + message).digest(), "little") % ED25519_L
        if k % 8 == 0:
            signature = big_r + ((r + k * a) % ED25519_L).to_bytes(32, "little")
            nacl.signing.VerifyKey(mixed).verify(message, signature)
            return mixed, signature
    raise RuntimeError("no nonce gave k = 0 mod 8 in 1000 tries")


def mixed_order_signed(m: Manifest, seed: bytes) -> SignedManifest:
    """`m` naming and signed by a mixed-order device key (`mixed_order_sign`)."""
    mixed, _ = mixed_order_sign(seed, b"")
    weak = replace(m, device=replace(m.device, ed25519=mixed))
    _, signature = mixed_order_sign(seed, signing_message(weak))
    return SignedManifest(manifest=weak, public_key=mixed, signature=signature)


def small_order_signed(m: Manifest) -> SignedManifest:
    """`m` "signed" by the identity point: R = identity, S = 0 satisfies the equation for
    every message under that key."""
    weak = replace(m, device=replace(m.device, ed25519=IDENTITY_POINT))
    forged = IDENTITY_POINT + bytes(32)
    return SignedManifest(manifest=weak, public_key=IDENTITY_POINT, signature=forged)


def high_s(signature: bytes) -> bytes:
    """An Ed25519 signature with S + L in place of S: the same equation, not canonical."""
    s = int.from_bytes(signature[32:], "little") + ED25519_L
    return signature[:32] + s.to_bytes(32, "little")


# --- anchor proofs ---------------------------------------------------------------------------

EVM_DEVICE = "0x" + "5a" * 20
CONTRACT = "0x" + "c0" * 20


def anchor_for(m: Manifest, key: nacl.signing.SigningKey = DEVICE_A) -> AnchorProof:
    """`m`'s anchor proof as leaf 2 of a batch of 5, in block 42 of chain 31337."""
    members = [(f"other-{i}", bytes([i]) * 32) for i in range(5)]
    members[2] = (m.session, m.tree_root)
    leaves = [anchor_leaf(s, r) for s, r in members]
    return AnchorProof(
        session=m.session,
        session_root=m.tree_root,
        leaf_index=2,
        batch_size=5,
        path=tuple(batch_path(2, leaves)),
        batch_root=batch_root(leaves),
        chain_id=31337,
        contract=CONTRACT,
        device=EVM_DEVICE,
        binding=key.sign(binding_message(EVM_DEVICE)).signature,
        tx_hash="0x" + "7e" * 32,
        block_number=42,
        block_hash="0x" + "b1" * 32,
    )


# --- bundles ---------------------------------------------------------------------------------


def members(
    signed: SignedManifest,
    store: Mapping[str, bytes],
    *,
    proofs: Proofs | None = None,
    anchor: bytes | None = None,
) -> list[Member]:
    """The members `write_bundle` writes, in its order (proofs built from the manifest)."""
    m = signed.manifest
    header = canonical_json({"format": BUNDLE_FORMAT, "version": 1, "session": m.session})
    out: list[Member] = [
        (HEADER_MEMBER, header),
        (MANIFEST_MEMBER, signed.to_bytes()),
        (PROOFS_MEMBER, (proofs or build_proofs(m)).to_bytes()),
    ]
    if anchor is not None:
        out.append((ANCHOR_MEMBER, anchor))
    out += [(CHUNK_PREFIX + c.hash_hex, store[c.hash_hex]) for c in m.chunks]
    return out


def pack(items: Sequence[Member], mtime: int, *, fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """A tar of `items` with the headers `write_bundle` writes (mode 0644, uid/gid 0, empty
    user and group, `mtime`), padded to a 10240-byte record."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def mtime_of(m: Manifest) -> int:
    return bundle_mtime(m)
