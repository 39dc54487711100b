"""Chunk encryption and data-key wrapping.

* Chunks: XChaCha20-Poly1305-IETF under a per-session 32-byte data key, a fresh
  random 24-byte nonce per chunk, sealed bytes ``nonce(24) || ciphertext || tag(16)``,
  associated data binding the chunk to its session, stream and index (`chunk_ad`).
* Data key: wrapped to each recipient with a libsodium sealed box
  (``crypto_box_seal``) to the recipient's X25519 public key: 80 bytes.

This module does not compress, hash or sign, does not read or write key files
(see `keyfile`), and never sees the device's signing key (walletd holds it).
"""

from __future__ import annotations

import secrets

import nacl.bindings as sodium
import nacl.exceptions

from lucid.evidence.errors import DecryptionError

__all__ = [
    "DATA_KEY_SIZE",
    "NONCE_SIZE",
    "SEALED_KEY_SIZE",
    "SEALED_OVERHEAD",
    "TAG_SIZE",
    "chunk_ad",
    "device_fingerprint",
    "fingerprint",
    "new_data_key",
    "open_chunk",
    "seal_chunk",
    "unwrap_key",
    "wrap_key",
]

DATA_KEY_SIZE = 32
NONCE_SIZE = 24
TAG_SIZE = 16
SEALED_OVERHEAD = NONCE_SIZE + TAG_SIZE
"""A sealed chunk is its plaintext (compressed) length plus 40 bytes."""
SEALED_KEY_SIZE = 80
"""``crypto_box_seal`` of a 32-byte key: ephemeral public key (32) + key (32) + MAC (16)."""
_CHUNK_AD_PREFIX = b"lucid.chunk.v1\x00"


def _item(stream: str, index: int) -> str:
    return f"chunk {stream}#{index}"


def chunk_ad(session: str, stream: str, index: int) -> bytes:
    """The associated data that binds a sealed chunk to its place.

    ``"lucid.chunk.v1" 0x00 session 0x00 stream 0x00 index(8 bytes, big-endian)``

    Args:
        session: Session name (ASCII, no NUL).
        stream: Stream name (ASCII, no NUL).
        index: Chunk index within the stream, from 0.

    Raises:
        ValueError: A name contains NUL or the index is out of range.

    Returns:
        The associated data bytes.
    """
    if "\x00" in session or "\x00" in stream:
        raise ValueError("session and stream names must not contain NUL")
    if not 0 <= index < 2**64:
        raise ValueError(f"chunk index {index} out of range")
    return (
        _CHUNK_AD_PREFIX
        + session.encode()
        + b"\x00"
        + stream.encode()
        + b"\x00"
        + index.to_bytes(8, "big")
    )


def new_data_key() -> bytes:
    """Return a fresh random 32-byte data key for one session."""
    return secrets.token_bytes(DATA_KEY_SIZE)


def _check_key(key: bytes) -> None:
    if len(key) != DATA_KEY_SIZE:
        raise ValueError(f"data key must be {DATA_KEY_SIZE} bytes, got {len(key)}")


def seal_chunk(key: bytes, session: str, stream: str, index: int, plaintext: bytes) -> bytes:
    """Encrypt one chunk.

    Args:
        key: The session's 32-byte data key.
        session: Session name.
        stream: Stream name.
        index: Chunk index within the stream.
        plaintext: The (compressed) chunk bytes.

    Raises:
        ValueError: Wrong key length or bad names (see `chunk_ad`).

    Returns:
        ``nonce(24) || ciphertext || tag(16)``.
    """
    _check_key(key)
    nonce = secrets.token_bytes(NONCE_SIZE)
    ad = chunk_ad(session, stream, index)
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def open_chunk(key: bytes, session: str, stream: str, index: int, sealed: bytes) -> bytes:
    """Decrypt and authenticate one chunk sealed by `seal_chunk`.

    Args:
        key: The session's 32-byte data key.
        session: Session name the chunk must belong to.
        stream: Stream name the chunk must belong to.
        index: Index the chunk must have.
        sealed: ``nonce || ciphertext || tag``.

    Raises:
        ValueError: Wrong key length.
        DecryptionError: Too short, wrong key, or sealed for another place
            (item ``"chunk <stream>#<index>"``).

    Returns:
        The plaintext (still compressed, if it was).
    """
    _check_key(key)
    item = _item(stream, index)
    if len(sealed) < SEALED_OVERHEAD:
        raise DecryptionError(item, f"{item}: {len(sealed)} bytes is too short to be sealed")
    ad = chunk_ad(session, stream, index)
    nonce, body = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, ad, nonce, key)
    except nacl.exceptions.CryptoError:
        raise DecryptionError(
            item, f"{item}: does not authenticate (wrong key, or moved or altered)"
        ) from None


def wrap_key(data_key: bytes, recipient_pub: bytes) -> bytes:
    """Seal the data key to one recipient (libsodium ``crypto_box_seal``).

    Args:
        data_key: The 32-byte data key.
        recipient_pub: The recipient's 32-byte X25519 public key.

    Raises:
        ValueError: Wrong key lengths.

    Returns:
        80 bytes: ephemeral public key || boxed data key.
    """
    _check_key(data_key)
    if len(recipient_pub) != 32:
        raise ValueError(f"X25519 public key must be 32 bytes, got {len(recipient_pub)}")
    return sodium.crypto_box_seal(data_key, recipient_pub)


def unwrap_key(sealed: bytes, secret: bytes, public: bytes) -> bytes:
    """Open a data key sealed by `wrap_key`.

    Args:
        sealed: The 80-byte sealed box.
        secret: The recipient's X25519 secret key.
        public: The recipient's X25519 public key.

    Raises:
        DecryptionError: The box does not open with this key pair, or does not hold a
            32-byte key (item ``"sealed_key"``).

    Returns:
        The 32-byte data key.
    """
    try:
        key = sodium.crypto_box_seal_open(sealed, public, secret)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError("sealed_key", "sealed_key: does not open with this key") from None
    if len(key) != DATA_KEY_SIZE:
        raise DecryptionError("sealed_key", f"sealed_key: holds {len(key)} bytes, not a data key")
    return key


def fingerprint(x25519_public: bytes) -> str:
    """A short name for a recipient: the first 16 hex digits of its public key."""
    return x25519_public.hex()[:16]


def device_fingerprint(ed25519: bytes) -> str:
    """A device's short, human-comparable name: its Ed25519 key's first 16 bytes in 8 groups
    of 4 hex digits (``ea4a:6c63:e29c:520a:bef5:507b:132e:c5f9``), docs/evidence.md §5.
    Shown on the device's console and web page; ``lucid verify --device-key`` accepts it."""
    h = ed25519.hex()[:32]
    return ":".join(h[i : i + 4] for i in range(0, 32, 4))
