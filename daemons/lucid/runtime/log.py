"""Logging fit for journald: one line per record, syslog priority prefixes under systemd.

When stderr is connected to the journal (``JOURNAL_STREAM`` matches stderr), lines carry
``<N>`` priority prefixes and no timestamp (journald adds its own); otherwise a compact
timestamped format for terminals and test logs. Nothing here logs secrets; callers must
not pass key material to the logger. Log files are opened 0640 (`open_log`).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import BinaryIO

_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        text = super().format(record).replace("\n", " | ")
        return f"<{prio}>{text}"


def _stderr_is_journal() -> bool:
    stream = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in stream:
        return False
    dev, ino = stream.split(":", 1)
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def setup_logging(name: str, level: str | None = None) -> logging.Logger:
    """Configure the root logger once for daemon ``name`` and return its logger.

    ``LUCID_LOG_LEVEL`` (DEBUG, INFO, …) overrides the default INFO.
    """
    handler = logging.StreamHandler(sys.stderr)
    if _stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LUCID_LOG_LEVEL", "INFO").upper())
    return logging.getLogger(f"lucid.{name}")


LOG_FILE_MODE = 0o640  # owner writes, the owner's group reads, nobody else


def open_log(path: Path) -> BinaryIO:
    """Open ``path`` for appending as a log file of mode 0640 (an older file is narrowed).

    The file takes a child's stdout and stderr (`lucid.runtime.supervisor`, ``lucid up
    --detach``); what is written there must hold no secret all the same.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
    try:
        os.fchmod(fd, LOG_FILE_MODE)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise
