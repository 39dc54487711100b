"""Chunk AEAD, its associated-data binding, and data-key wrapping."""

from __future__ import annotations

import pytest

from lucid.evidence.crypto import (
    NONCE_SIZE,
    SEALED_KEY_SIZE,
    SEALED_OVERHEAD,
    chunk_ad,
    fingerprint,
    new_data_key,
    open_chunk,
    seal_chunk,
    unwrap_key,
    wrap_key,
)
from lucid.evidence.errors import DecryptionError
from lucid.evidence.keyfile import RecipientKey


def test_chunk_ad_bytes() -> None:
    assert chunk_ad("s1", "video.0", 3) == (
        b"lucid.chunk.v1\x00s1\x00video.0\x00\x00\x00\x00\x00\x00\x00\x00\x03"
    )
    with pytest.raises(ValueError):
        chunk_ad("s\x001", "a", 0)
    with pytest.raises(ValueError):
        chunk_ad("s", "a", -1)


def test_round_trip_and_layout() -> None:
    key = new_data_key()
    assert len(key) == 32 and key != new_data_key()
    sealed = seal_chunk(key, "s1", "video.0", 7, b"hello")
    assert len(sealed) == 5 + SEALED_OVERHEAD
    assert open_chunk(key, "s1", "video.0", 7, sealed) == b"hello"
    again = seal_chunk(key, "s1", "video.0", 7, b"hello")
    assert again[:NONCE_SIZE] != sealed[:NONCE_SIZE]  # fresh random nonce
    assert open_chunk(key, "s1", "video.0", 7, seal_chunk(key, "s1", "video.0", 7, b"")) == b""


@pytest.mark.parametrize(
    ("session", "stream", "index"),
    [("s2", "video.0", 7), ("s1", "video.1", 7), ("s1", "video.0", 8), ("s1", "audit", 7)],
)
def test_associated_data_binds_place(session: str, stream: str, index: int) -> None:
    key = new_data_key()
    sealed = seal_chunk(key, "s1", "video.0", 7, b"payload")
    with pytest.raises(DecryptionError) as err:
        open_chunk(key, session, stream, index, sealed)
    assert err.value.item == f"chunk {stream}#{index}"
    assert f"chunk {stream}#{index}" in str(err.value)


def test_wrong_key_tamper_and_short() -> None:
    key = new_data_key()
    sealed = seal_chunk(key, "s", "audit", 0, b"payload")
    with pytest.raises(DecryptionError):
        open_chunk(new_data_key(), "s", "audit", 0, sealed)
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x80
        with pytest.raises(DecryptionError):
            open_chunk(key, "s", "audit", 0, bytes(bad))
    with pytest.raises(DecryptionError, match=r"too short"):
        open_chunk(key, "s", "audit", 0, sealed[: SEALED_OVERHEAD - 1])
    with pytest.raises(ValueError):
        seal_chunk(b"short", "s", "audit", 0, b"")


def test_wrap_unwrap() -> None:
    r = RecipientKey.generate()
    key = new_data_key()
    sealed = wrap_key(key, r.public)
    assert len(sealed) == SEALED_KEY_SIZE
    assert unwrap_key(sealed, r.secret, r.public) == key
    other = RecipientKey.generate()
    with pytest.raises(DecryptionError) as err:
        unwrap_key(sealed, other.secret, other.public)
    assert err.value.item == "sealed_key"
    with pytest.raises(DecryptionError):
        unwrap_key(sealed[:-1], r.secret, r.public)
    with pytest.raises(ValueError):
        wrap_key(key, b"\x00" * 31)


def test_fingerprint() -> None:
    assert fingerprint(bytes(range(32))) == "0001020304050607"
