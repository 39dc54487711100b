"""The size limits of the version 1 evidence formats (docs/evidence.md §9.1).

Every reader in this package refuses input above these limits with a `FormatError`
before it allocates memory for it, so that what a bundle costs to open, verify or play
is bounded by the format, not by what the bundle claims. The limits are part of the
format: a bundle the device writes never exceeds them (its chunker cuts plaintext
chunks of at most 16 MiB and stores a chunk uncompressed when zstd would not make it
smaller), and a verifier must refuse one that does.

Why these numbers:

* `MAX_PLAIN_SIZE`: the chunker's full chunk (``ChunkerConfig.chunk_bytes``, 8–16 MiB
  on the device); a flushed tail is smaller.
* `MAX_CHUNK_SIZE`: a sealed chunk is its stored bytes plus 40 (nonce and tag), and
  the device never stores more than the plaintext.
* `MAX_CHUNKS`: 2**15 leaves — 512 GiB of full chunks, or about 45 hours of a session
  whose video and audit streams both flush a chunk every 10 s. It keeps a valid
  ``proofs.json`` under 36 MiB (about 140 MiB once parsed).

This module holds numbers only; the checks live where the data is read
(`bundle`, `manifest`, `canonical`, `playback`).
"""

from __future__ import annotations

from lucid.evidence.crypto import SEALED_OVERHEAD

__all__ = [
    "MAX_ANCHOR_SIZE",
    "MAX_APPROVAL_MEMBERS",
    "MAX_CHUNKS",
    "MAX_CHUNK_SIZE",
    "MAX_HEADER_SIZE",
    "MAX_MANIFEST_SIZE",
    "MAX_MANIFEST_TOKENS",
    "MAX_MEMBERS",
    "MAX_PLAIN_SIZE",
    "MAX_PROOFS_SIZE",
    "MAX_PROOFS_TOKENS",
    "MAX_RECIPIENTS",
    "MAX_RESERVED_SIZE",
    "MAX_STREAMS",
    "READ_BLOCK",
    "json_tokens",
]

MiB = 1024 * 1024

MAX_PLAIN_SIZE = 16 * MiB
"""A chunk's plaintext (``plain_size``, after decompression), bytes."""
MAX_CHUNK_SIZE = MAX_PLAIN_SIZE + SEALED_OVERHEAD
"""A sealed chunk (``size``, the ``chunks/<hash>`` member), bytes."""
MAX_CHUNKS = 32_768
"""Chunks per session (= Merkle tree size, ``chunks/`` members)."""
MAX_STREAMS = 1_024
"""Streams per session (one ``video.<n>`` and one ``audit.<n>`` per recorder run)."""
MAX_RECIPIENTS = 64
"""Recipient entries per manifest."""

MAX_HEADER_SIZE = 64 * 1024
"""``lucid-bundle.json``, bytes."""
MAX_MANIFEST_SIZE = 16 * MiB
"""``manifest.json``, bytes (a manifest of `MAX_CHUNKS` chunks takes about 6 MiB)."""
MAX_PROOFS_SIZE = 36 * MiB
"""``proofs.json``, bytes (the proofs of `MAX_CHUNKS` leaves take 34.5 MiB)."""
MAX_ANCHOR_SIZE = 64 * 1024
"""``anchor.json``, bytes (a batch proof of at most 64 hashes plus a transaction)."""
MAX_RESERVED_SIZE = 16 * MiB
"""Each reserved ``approvals/<name>`` member, bytes (never read by this version)."""
MAX_APPROVAL_MEMBERS = 256
"""Reserved ``approvals/<name>`` members per bundle."""
MAX_MEMBERS = 4 + MAX_APPROVAL_MEMBERS + MAX_CHUNKS
"""Members per bundle: the three fixed ones, ``anchor.json``, approvals and chunks."""

MAX_MANIFEST_TOKENS = 8 * MAX_CHUNKS + 8 * MAX_STREAMS + 4 * MAX_RECIPIENTS + 65_536
"""``{``, ``[`` and ``,`` bytes in ``manifest.json``: 7 per chunk entry, 5 per stream,
3 per recipient, and room for the policy. Counted before parsing, so that a hostile
manifest of tiny values cannot cost more memory than a real one."""
MAX_PROOFS_TOKENS = 20 * MAX_CHUNKS + 16
"""``{``, ``[`` and ``,`` bytes in ``proofs.json``: at most 5 + 15 per proof."""

READ_BLOCK = 1 * MiB
"""How much of a chunk member is read at a time when it is hashed without being kept."""


def json_tokens(data: bytes) -> int:
    """An upper bound on the JSON values in `data`, counted without parsing.

    Every value but the first follows a ``[``, a ``,`` or a ``:`` of an object member,
    and every member but the first of an object follows a ``,``; so the number of
    values is at most ``1 + 2 * (count("{") + count("[") + count(","))``. Counting is a
    few milliseconds for 16 MiB; parsing the same bytes as tiny values can take 30 times
    their size in memory.
    """
    return data.count(b"{") + data.count(b"[") + data.count(b",")
