"""Audit events of a session display, written as JSON lines to the spool.

`AuditRecorder` watches the session's X display from two threads of its own:

* a poller asks for the input focus about four times a second (Xvfb and many
  remote-desktop sessions have no window manager, so there is no
  ``_NET_ACTIVE_WINDOW`` to watch), walks up to the top-level window and writes
  a ``focus`` event (window id, title, WM_CLASS) whenever one of those changes;
* a RECORD-extension client counts KeyPress events of all clients and the
  poller writes a ``keys`` summary about once a second: count, focused window
  and the min/median/max interval between presses.

Each event is ``{"t": "<RFC 3339 UTC, ms>", "type": ..., ...}``. The caller writes
``session.start``, ``session.stop`` and ``encoder`` through the methods here.

What this module never records: key codes, key symbols, text, pointer
positions, or pixels. Only the type byte and server time of a recorded event
are read; its key code byte is skipped unread. It does not own the writer:
close the `JsonLinesWriter` after `stop`.

This module owns the threads, the timing and the events written; the X11 work
lives beside it: the focus lookup in `lucid.recorder._audit_focus` and the
RECORD client with its tally in `lucid.recorder._audit_keys` (`FocusInfo` and
`KeyStats` are re-exported here).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from Xlib import error as xerror
from Xlib.display import Display

from lucid.recorder._audit_focus import FocusInfo, focused
from lucid.recorder._audit_keys import KeyRecorder, KeyStats
from lucid.recorder.capture import xauthority_env
from lucid.recorder.encoder import EncoderChoice
from lucid.recorder.errors import DisplayUnavailableError, RecorderError
from lucid.recorder.jsonlines import JsonLinesWriter

__all__ = ["AuditRecorder", "FocusInfo", "KeyStats", "rfc3339_ms"]

_log = logging.getLogger(__name__)

_JOIN_SECONDS = 2.0  # how long `stop` waits for a thread before forcing it


def rfc3339_ms(moment: datetime) -> str:
    """Format ``moment`` as RFC 3339 UTC with milliseconds, e.g. ``2025-01-02T03:04:05.678Z``.

    Args:
        moment: an aware datetime.

    Returns:
        The timestamp string.
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditRecorder:
    """Write focus and key-metadata events of a display until stopped."""

    def __init__(
        self,
        display: str,
        xauthority: str | None,
        writer: JsonLinesWriter,
        *,
        poll_seconds: float = 0.25,
        keys_seconds: float = 1.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare; nothing connects until `start`.

        Args:
            display: X display name, e.g. ``":10"``.
            xauthority: the session's Xauthority file, or None for the environment's.
            writer: where events go (owned by the caller).
            poll_seconds: focus poll interval.
            keys_seconds: interval between key summaries (when keys were pressed).
            now: wall clock for event times (a seam for tests).
            clock: monotonic clock (a seam for tests).
        """
        self._display = display
        self._xauthority = xauthority
        self._writer = writer
        self._poll_seconds = poll_seconds
        self._keys_seconds = keys_seconds
        self._now = now
        self._clock = clock
        self._stop = threading.Event()
        self._keys = KeyStats()
        self._focus = FocusInfo(None, None, None)
        self._poll_conn: Display | None = None
        self._key_recorder = KeyRecorder(self._connect, self._keys, display)
        self._threads: list[threading.Thread] = []
        self._started = False
        self.keys_available = False
        self.error: Exception | None = None  # why a thread ended early (e.g. SpoolFullError)

    # -- events written by the caller ------------------------------------------

    def event(self, kind: str, **fields: Any) -> None:
        """Write one event ``{"t": now, "type": kind, **fields}``.

        Raises:
            SpoolFullError: the spool is full.
            ValueError: a field is not JSON-serialisable.
        """
        self._writer.write({"t": rfc3339_ms(self._now()), "type": kind, **fields})

    def session_start(self, **fields: Any) -> None:
        """Write ``session.start`` with the caller's fields (e.g. session id, user)."""
        self.event("session.start", **fields)

    def session_stop(self, **fields: Any) -> None:
        """Write ``session.stop`` with the caller's fields (e.g. reason)."""
        self.event("session.stop", **fields)

    def encoder(self, choice: EncoderChoice, width: int, height: int) -> None:
        """Write the ``encoder`` event: codec name, size and `EncoderChoice.facts`."""
        self.event(
            "encoder", codec=choice.name, width=width, height=height, settings=choice.facts()
        )

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Connect to the display and start the poller and the key recorder.

        If the RECORD extension is missing or refuses, writes ``keys.unavailable``
        and records focus only.

        Raises:
            DisplayUnavailableError: the display cannot be opened.
            RuntimeError: already started (even if stopped since).
        """
        if self._started:
            raise RuntimeError("an AuditRecorder starts once")
        self._started = True
        self._poll_conn = self._connect()
        try:
            self._key_recorder.open()
        except (xerror.DisplayError, xerror.XError, OSError, RecorderError, RuntimeError) as err:
            self._key_recorder.close()
            self.event("keys.unavailable", reason=str(err) or type(err).__name__)
        else:
            self.keys_available = True
            self._spawn(lambda: self._key_recorder.run(self._stop), "audit-keys")
        self._spawn(self._poll_loop, "audit-focus")

    def stop(self) -> None:
        """Stop both threads, write the last key summary and disconnect; idempotent."""
        self._stop.set()
        self._key_recorder.disable()
        for thread in self._threads:
            thread.join(timeout=_JOIN_SECONDS)
            if thread.is_alive():
                # The disable did not arrive (server hung?): wake the blocked reader.
                self._key_recorder.wake()
                thread.join(timeout=_JOIN_SECONDS)
        self._threads = []
        self._emit_keys()
        self._key_recorder.close()
        if self._poll_conn is not None:
            with contextlib.suppress(Exception):
                self._poll_conn.close()
            self._poll_conn = None
        self._writer.maybe_roll()

    def __enter__(self) -> AuditRecorder:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------

    def _connect(self) -> Display:
        try:
            with xauthority_env(self._xauthority):
                return Display(self._display)
        except (xerror.DisplayError, xerror.XauthError, OSError, ValueError, OverflowError) as err:
            raise DisplayUnavailableError(self._display, self._xauthority, str(err)) from err

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        def run() -> None:
            try:
                target()
            except Exception as err:  # a thread's failure must reach the owner, not stderr
                _log.error("audit thread %s on %s failed: %s", name, self._display, err)
                self.error = err

        thread = threading.Thread(target=run, name=f"{name} {self._display}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll_loop(self) -> None:
        conn = self._poll_conn
        assert conn is not None
        next_keys = self._clock() + self._keys_seconds
        stopping = False
        try:
            while True:
                focus = focused(conn)
                if focus is not None and focus.key() != self._focus.key():
                    self._emit_keys()  # presses so far belong to the previous window
                    self._focus = focus
                    self.event(
                        "focus", window=focus.window, title=focus.title, wm_class=focus.wm_class
                    )
                if self._clock() >= next_keys:
                    self._emit_keys()
                    next_keys = self._clock() + self._keys_seconds
                self._writer.maybe_roll()
                if stopping:
                    return
                stopping = self._stop.wait(self._poll_seconds)
        except (xerror.ConnectionClosedError, OSError) as err:
            if not self._stop.is_set():
                _log.info("focus polling on %s ended: %s", self._display, err)
                self.event("display.lost", reason=str(err))
                self._writer.roll()

    def _emit_keys(self) -> None:
        count, intervals = self._keys.take()
        if count:
            self.event("keys", count=count, window=self._focus.window, intervals_ms=intervals)
