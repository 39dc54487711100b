"""Logging fit for journald: one line per record, syslog priority prefixes under systemd.

When stderr is connected to the journal (``JOURNAL_STREAM`` matches stderr), lines carry
``<N>`` priority prefixes and no timestamp (journald adds its own); otherwise a compact
timestamped format for terminals and test logs. Nothing here logs secrets; callers must
not pass key material to the logger.
"""

from __future__ import annotations

import logging
import os
import sys

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
