"""Which audit sessions gatekeeper opened, kept on disk so a power cut cannot orphan one.

The audit stream lives in the RAM spool; after a power cut (or any reboot before the pipeline
took the last session) nothing there says a session existed, yet its earlier chunks may
already be in the store, unsigned. This journal keeps one small file per audit session in
gatekeeper's state directory, from its first event until the encryptor has taken the ended
session out of the spool: ``<session>.json`` = ``{"started": <unix s>, "streams": <n>,
"ended": <bool>}``. Files are written atomically and fsynced with their directory. This
module only stores entries; `lucid.gatekeeper.audit` decides what they mean.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from lucid.runtime import spool

_SUFFIX = ".json"


@dataclass(frozen=True)
class JournalEntry:
    """One audit session: when it began, how many ``audit.N`` streams it has used, and
    whether its ``session.end`` was written (the pipeline may not have taken it yet)."""

    started: float
    streams: int
    ended: bool


class AuditJournal:
    """Entries under ``directory`` (created 0700 on first use)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def put(self, session: str, entry: JournalEntry) -> None:
        """Record ``entry`` for ``session`` durably (file and directory fsynced)."""
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = json.dumps(asdict(entry), sort_keys=True).encode()
        spool.atomic_write(self._dir / (session + _SUFFIX), data, fsync=True)
        _sync_dir(self._dir)

    def forget(self, session: str) -> None:
        """Drop ``session``'s entry (the pipeline has taken the session)."""
        (self._dir / (session + _SUFFIX)).unlink(missing_ok=True)

    def entries(self) -> dict[str, JournalEntry]:
        """Every entry by session name; unreadable files are skipped (a torn write cannot
        happen, see `put`; a foreign file is not ours to read)."""
        out: dict[str, JournalEntry] = {}
        with contextlib.suppress(FileNotFoundError):
            for path in sorted(self._dir.iterdir()):
                if not path.name.endswith(_SUFFIX):
                    continue
                try:
                    raw = json.loads(path.read_text())
                    entry = JournalEntry(
                        float(raw["started"]), int(raw["streams"]), bool(raw["ended"])
                    )
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                out[path.name.removesuffix(_SUFFIX)] = entry
        return out


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
