"""What an ended session leaves in its spool directory, also after a crash or a full spool.

`end_streams` ends every stream of a session that is not ended yet: it first turns a
crash-interrupted ``.part`` segment into a finished one, then writes ``END`` with the last
segment number still in the spool (-1 if the chunker consumed them all). `write_session_end`
then writes ``session.json`` and ``session.end`` for the chunker and merkle. Both are
idempotent, so a restart or a retry after a full spool can run them again.

This module does not read the session table, does not stop capture, and does not talk to the
bus.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lucid.recorder.segments import recover_parts
from lucid.runtime import spool


def is_ended(session_dir: Path) -> bool:
    """Whether there is nothing left to end: no spool directory, or ``session.end`` written."""
    return not session_dir.exists() or (session_dir / spool.SESSION_END).exists()


def end_streams(session_dir: Path) -> None:
    """Write ``END`` in every stream of ``session_dir`` that has none.

    Raises:
        StorageFullError: no space for a marker (retry later).
    """
    for stream_dir in spool.streams(session_dir):
        if (stream_dir / spool.STREAM_END).exists():
            continue
        recover_parts(stream_dir)
        present = spool.list_segments(stream_dir)
        last = max(present) if present else -1
        spool.atomic_write(stream_dir / spool.STREAM_END, str(last).encode())


def write_session_end(session_dir: Path, info: Mapping[str, object], grant: str) -> None:
    """Write ``session.json`` (the session-info keys of ``info``, producer, grant source) and
    then ``session.end``.

    Raises:
        StorageFullError: no space (retry later; nothing half-written is left).
    """
    spool.write_session_info(
        session_dir,
        {key: str(info[key]) for key in spool.SESSION_INFO_KEYS if key in info}
        | {"producer": "recorder", "grant": grant},
    )
