"""A logging filter that keeps a log from flooding: repeats of one message are collapsed.

`RepeatFilter`, attached to a handler, lets through at most ``burst`` records of one kind
(logger, level, call site and message template — not the formatted text, so a message that
names a different client each time is still one kind) per ``window_s`` seconds, and at most
``total`` records of all kinds together in that time. The rest are dropped and counted;
the next record let through of that kind says ``(N similar messages suppressed)``, and the
next record let through at all reports drops of the total budget. Only the first record of
a kind in a window keeps its traceback; the repeats let through say ``(traceback as
above)``. So a log grows by at most ``total`` lines (plus ``burst`` tracebacks per kind)
per window, whatever a client does.

What this does not do: write anything by itself (a count of drops waits for the next
record), or filter records logged while the handler is not the one it is attached to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

Kind = tuple[str, int, str, int, str]


@dataclass
class _Window:
    start: float
    passed: int = 0
    dropped: int = 0


class RepeatFilter(logging.Filter):
    """Rate-limit records per kind (``burst``) and in all (``total``) per ``window_s``."""

    def __init__(
        self,
        burst: int = 10,
        window_s: float = 60.0,
        total: int = 200,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1000,
    ) -> None:
        super().__init__()
        self._burst = max(1, burst)
        self._window_s = window_s
        self._total = max(1, total)
        self._clock = clock
        self._max_kinds = max_kinds
        self._kinds: dict[Kind, _Window] = {}
        self._all = _Window(clock())
        self._all_dropped_unreported = 0

    def _kind_window(self, kind: Kind, now: float) -> tuple[_Window, int]:
        """The current window of ``kind`` and the drops of its previous one (to report)."""
        window = self._kinds.get(kind)
        if window is not None and now - window.start < self._window_s:
            return window, 0
        dropped = window.dropped if window is not None else 0
        if window is None and len(self._kinds) >= self._max_kinds:
            for key, old in list(self._kinds.items()):
                if now - old.start >= self._window_s:
                    del self._kinds[key]
            if len(self._kinds) >= self._max_kinds:
                self._kinds.clear()  # bounded memory beats exact counts
        window = self._kinds[kind] = _Window(now)
        return window, dropped

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        if now - self._all.start >= self._window_s:
            self._all = _Window(now)
        kind = (record.name, record.levelno, record.pathname, record.lineno, str(record.msg))
        window, earlier = self._kind_window(kind, now)
        window.dropped += earlier  # reported with the next record let through
        if window.passed >= self._burst:
            window.dropped += 1
            return False
        if self._all.passed >= self._total:
            self._all_dropped_unreported += 1
            return False
        notes = []
        if window.dropped:
            notes.append(f"{window.dropped} similar messages suppressed")
            window.dropped = 0
        if self._all_dropped_unreported:
            notes.append(f"{self._all_dropped_unreported} other messages suppressed")
            self._all_dropped_unreported = 0
        if window.passed and record.exc_info:
            record.exc_info, record.exc_text = None, None
            notes.append("traceback as above")
        window.passed += 1
        self._all.passed += 1
        if notes:
            # '%%' keeps the note literal when the message is %-formatted with args.
            note = "; ".join(notes).replace("%", "%%") if record.args else "; ".join(notes)
            record.msg = f"{record.msg} ({note})"
        return True
