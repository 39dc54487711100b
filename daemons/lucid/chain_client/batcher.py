"""When to cut a batch, and its tree.

A batch is cut when ``batch_size`` roots are queued, or when the oldest queued root has
waited ``batch_window_s`` (whichever comes first); it takes the oldest roots, at most
``batch_size``, in queue order (queued_at, then session name). Its tree is the batch tree
of `lucid.evidence.anchor` (RFC 9162 shape over ``anchor_leaf(session, root)``). This
module does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lucid.evidence.anchor import anchor_leaf, batch_root


@dataclass(frozen=True)
class BatchPolicy:
    size: int  # roots per batch at most; a full batch goes out at once
    window_s: float  # the oldest queued root waits at most this long


def due(policy: BatchPolicy, queued: int, oldest: float | None, now: float) -> bool:
    """Whether a batch should be cut now."""
    if queued <= 0 or oldest is None:
        return False
    return queued >= policy.size or now - oldest >= policy.window_s


def wait_s(policy: BatchPolicy, oldest: float | None, now: float) -> float | None:
    """Seconds until the window of the oldest queued root closes (None: nothing queued)."""
    if oldest is None:
        return None
    return max(0.0, oldest + policy.window_s - now)


def tree_root(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The batch root over ``(session, session_root)`` pairs in leaf order."""
    return batch_root([anchor_leaf(session, root) for session, root in members])
