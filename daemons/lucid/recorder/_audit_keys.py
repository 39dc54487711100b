"""Key-press *timing* of a display through the X RECORD extension: counts and intervals only.

`KeyRecorder` is a RECORD client over two connections (control and data) that asks for the
KeyPress device events of all clients; `KeyRecorder.run` blocks in a worker thread and adds
each press's X server time to a `KeyStats`. `KeyStats.take` turns the presses since the last
call into a count and min/median/max intervals.

What this module never reads: key codes, key symbols, text, or any other event. Only the type
byte and server time of a recorded event are unpacked; its key code byte is skipped unread. It
does not write events, poll the focus, or own the thread that runs it (`AuditRecorder` does).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import statistics
import struct
import threading
from collections.abc import Callable

from Xlib import X
from Xlib import error as xerror
from Xlib.display import Display
from Xlib.ext import record as xrecord
from Xlib.protocol import rq

_log = logging.getLogger("lucid.recorder.audit")  # one logger for the audit, as before the split

_EVENT_SIZE = 32  # every core X event is 32 bytes
_EVENT_HEAD = struct.Struct("=B3xI")  # type, (key code + sequence skipped), server time ms
_TIME_WRAP = 1 << 32  # X server time is a CARD32 of milliseconds


class KeyStats:
    """Thread-safe tally of key presses between two summaries (times only)."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._times: list[int] = []

    def add(self, server_time_ms: int) -> None:
        """Count one key press at X server time ``server_time_ms``."""
        with self._lock:
            self._times.append(server_time_ms)

    def take(self) -> tuple[int, dict[str, int] | None]:
        """Return and reset the tally.

        Returns:
            (count, intervals) where intervals is ``{"min", "median", "max"}`` in
            milliseconds between consecutive presses, or None for fewer than two.
        """
        with self._lock:
            times, self._times = self._times, []
        if len(times) < 2:
            return len(times), None
        gaps = [(later - earlier) % _TIME_WRAP for earlier, later in itertools.pairwise(times)]
        return len(times), {
            "min": min(gaps),
            "median": round(statistics.median(gaps)),
            "max": max(gaps),
        }


class KeyRecorder:
    """A RECORD context counting the KeyPress events of all clients of one display."""

    def __init__(self, connect: Callable[[], Display], keys: KeyStats, display: str) -> None:
        """Prepare; nothing connects until `open`.

        Args:
            connect: opens a new connection to the display (raises if it cannot).
            keys: where presses are counted.
            display: the display's name, for log lines.
        """
        self._connect = connect
        self._keys = keys
        self._display = display
        self._ctrl: Display | None = None
        self._data: Display | None = None
        self._context: int | None = None

    def open(self) -> None:
        """Connect twice and create the RECORD context (not yet enabled).

        Raises:
            RuntimeError: the server has no RECORD extension.
            Xlib errors, OSError or RecorderError: the server refused or went away; call
                `close` and go on without key counts.
        """
        self._ctrl = self._connect()
        if not self._ctrl.has_extension("RECORD"):
            raise RuntimeError("the X server has no RECORD extension")
        self._ctrl.record_get_version(1, 13)  # a round trip: raises if RECORD refuses
        self._data = self._connect()
        self._context = self._ctrl.record_create_context(
            0,
            [xrecord.AllClients],
            [
                {
                    "core_requests": (0, 0),
                    "core_replies": (0, 0),
                    "ext_requests": (0, 0, 0, 0),
                    "ext_replies": (0, 0, 0, 0),
                    "delivered_events": (0, 0),
                    "device_events": (X.KeyPress, X.KeyPress),
                    "errors": (0, 0),
                    "client_started": False,
                    "client_died": False,
                }
            ],
        )
        self._ctrl.sync()  # surface a BadMatch/BadAlloc here, not in the thread

    def run(self, stopping: threading.Event) -> None:
        """Count presses until `disable` (or the server goes away); call after `open`.

        Args:
            stopping: set by the owner before `disable`; an end while it is unset is logged.
        """
        assert self._data is not None and self._context is not None
        try:
            # Blocks until the context is disabled (from `stop`) or the server goes away.
            self._data.record_enable_context(self._context, self._on_record)
        except (xerror.ConnectionClosedError, xerror.XError, OSError) as err:
            if not stopping.is_set():
                _log.info("key recording on %s ended: %s", self._display, err)

    def disable(self) -> None:
        """Ask the server to end the context, which returns `run` (errors are dropped)."""
        if self._ctrl is not None and self._context is not None:
            with contextlib.suppress(Exception):
                self._ctrl.record_disable_context(self._context)
                self._ctrl.flush()

    def wake(self) -> None:
        """Shut the data connection's socket so a blocked `run` returns (the disable did not
        arrive: server hung?)."""
        if self._data is not None:
            with contextlib.suppress(Exception):
                self._data.display.socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Free the context and close both connections; idempotent, errors are dropped."""
        ctrl, data = self._ctrl, self._data
        if ctrl is not None and self._context is not None:
            with contextlib.suppress(Exception):
                ctrl.record_free_context(self._context)
                ctrl.flush()
        for conn in (data, ctrl):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        self._ctrl = self._data = None
        self._context = None

    def _on_record(self, reply: rq.DictWrapper) -> None:
        if reply.category != xrecord.FromServer or reply.client_swapped:
            return
        data: bytes = reply.data
        for offset in range(0, len(data) - _EVENT_SIZE + 1, _EVENT_SIZE):
            kind, server_time = _EVENT_HEAD.unpack_from(data, offset)
            if kind & 0x7F == X.KeyPress:
                self._keys.add(server_time)
