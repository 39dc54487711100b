"""Assemble a manifest from what the daemons know: streams, chunk entries, recipients.

`build_manifest` sorts chunk entries into leaf order, computes the Merkle root and
validates the result exactly as a verifier would parse it.

This module does not seal chunks, wrap keys or sign (see `crypto`, `signed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lucid.evidence.errors import FormatError
from lucid.evidence.manifest import (
    ChunkEntry,
    DeviceKeys,
    Encoder,
    Manifest,
    Recipient,
    StreamInfo,
)
from lucid.evidence.timestamps import utc_timestamp
from lucid.evidence.tree import root as tree_root

__all__ = ["build_manifest"]


def build_manifest(
    *,
    session: str,
    device: DeviceKeys,
    started_at: str | datetime,
    ended_at: str | datetime,
    encoder: Encoder,
    streams: Sequence[StreamInfo],
    chunks: Iterable[ChunkEntry],
    recipients: Sequence[Recipient],
    policy: Mapping[str, Any] | None = None,
    complete: bool = True,
) -> Manifest:
    """Assemble a manifest: put chunks in leaf order and compute the tree root.

    Args:
        session: Session name.
        device: The device's public keys.
        started_at: Start time (aware datetime, or an RFC 3339 UTC string).
        ended_at: End time, likewise (not required to be after `started_at`:
            the device clock may have been stepped during the session).
        encoder: Encoder name and settings.
        streams: The streams in leaf order, each with its chunk count.
        chunks: Every chunk entry, in any order.
        recipients: Wrapped data keys (at least one).
        policy: The policy object carried in the manifest, or None.
        complete: False if the recording ended abnormally.

    Raises:
        FormatError: The result would not be a valid manifest (the message names
            the field, as `Manifest.from_dict` would).

    Returns:
        The manifest, with ``tree_root = root(leaf hashes in leaf order)``.
    """
    order = {s.name: i for i, s in enumerate(streams)}
    entries = list(chunks)
    for c in entries:
        if c.stream not in order:
            raise FormatError(f"chunk {c.stream}#{c.index}: stream {c.stream!r} is not declared")
    entries.sort(key=lambda c: (order[c.stream], c.index))
    manifest = Manifest(
        session=session,
        device=device,
        started_at=started_at if isinstance(started_at, str) else utc_timestamp(started_at),
        ended_at=ended_at if isinstance(ended_at, str) else utc_timestamp(ended_at),
        encoder=encoder,
        streams=tuple(streams),
        chunks=tuple(entries),
        recipients=tuple(recipients),
        tree_root=tree_root([c.hash for c in entries]),
        policy=policy,
        complete=complete,
    )
    try:
        d = manifest.to_dict()
    except (AttributeError, TypeError) as err:
        raise FormatError(f"manifest: a field has the wrong type ({err})") from None
    return Manifest.from_dict(d)
