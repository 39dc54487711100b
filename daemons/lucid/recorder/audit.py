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
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import statistics
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from Xlib import X, Xatom
from Xlib import error as xerror
from Xlib.display import Display
from Xlib.ext import record as xrecord
from Xlib.protocol import rq

from lucid.recorder.capture import xauthority_env
from lucid.recorder.encoder import EncoderChoice
from lucid.recorder.errors import DisplayUnavailableError, RecorderError
from lucid.recorder.jsonlines import JsonLinesWriter

__all__ = ["AuditRecorder", "FocusInfo", "KeyStats", "rfc3339_ms"]

_log = logging.getLogger(__name__)

_EVENT_SIZE = 32  # every core X event is 32 bytes
_EVENT_HEAD = struct.Struct("=B3xI")  # type, (key code + sequence skipped), server time ms
_TIME_WRAP = 1 << 32  # X server time is a CARD32 of milliseconds
_JOIN_SECONDS = 2.0  # how long `stop` waits for a thread before forcing it


def rfc3339_ms(moment: datetime) -> str:
    """Format ``moment`` as RFC 3339 UTC with milliseconds, e.g. ``2025-01-02T03:04:05.678Z``.

    Args:
        moment: an aware datetime.

    Returns:
        The timestamp string.
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


class FocusInfo:
    """The focused top-level window: id, title and WM_CLASS (instance, class)."""

    __slots__ = ("title", "window", "wm_class")

    def __init__(self, window: int | None, title: str | None, wm_class: list[str] | None) -> None:
        """Hold the values (all None when nothing has the focus)."""
        self.window = window
        self.title = title
        self.wm_class = wm_class

    def key(self) -> tuple[int | None, str | None, tuple[str, ...] | None]:
        """A comparable identity: a change of any part is a focus change."""
        return (self.window, self.title, tuple(self.wm_class) if self.wm_class else None)


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
        self._record_ctrl: Display | None = None
        self._record_data: Display | None = None
        self._record_context: int | None = None
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
            self._start_record()
        except (xerror.DisplayError, xerror.XError, OSError, RecorderError, RuntimeError) as err:
            self._close_record()
            self.event("keys.unavailable", reason=str(err) or type(err).__name__)
        else:
            self.keys_available = True
            self._spawn(self._record_loop, "audit-keys")
        self._spawn(self._poll_loop, "audit-focus")

    def stop(self) -> None:
        """Stop both threads, write the last key summary and disconnect; idempotent."""
        self._stop.set()
        if self._record_ctrl is not None and self._record_context is not None:
            with contextlib.suppress(Exception):
                self._record_ctrl.record_disable_context(self._record_context)
                self._record_ctrl.flush()
        for thread in self._threads:
            thread.join(timeout=_JOIN_SECONDS)
            if thread.is_alive() and self._record_data is not None:
                # The disable did not arrive (server hung?): wake the blocked reader.
                with contextlib.suppress(Exception):
                    self._record_data.display.socket.shutdown(socket.SHUT_RDWR)
                thread.join(timeout=_JOIN_SECONDS)
        self._threads = []
        self._emit_keys()
        self._close_record()
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

    def _start_record(self) -> None:
        self._record_ctrl = self._connect()
        if not self._record_ctrl.has_extension("RECORD"):
            raise RuntimeError("the X server has no RECORD extension")
        self._record_ctrl.record_get_version(1, 13)  # a round trip: raises if RECORD refuses
        self._record_data = self._connect()
        self._record_context = self._record_ctrl.record_create_context(
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
        self._record_ctrl.sync()  # surface a BadMatch/BadAlloc here, not in the thread

    def _close_record(self) -> None:
        ctrl, data = self._record_ctrl, self._record_data
        if ctrl is not None and self._record_context is not None:
            with contextlib.suppress(Exception):
                ctrl.record_free_context(self._record_context)
                ctrl.flush()
        for conn in (data, ctrl):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        self._record_ctrl = self._record_data = None
        self._record_context = None

    def _record_loop(self) -> None:
        assert self._record_data is not None and self._record_context is not None
        try:
            # Blocks until the context is disabled (from `stop`) or the server goes away.
            self._record_data.record_enable_context(self._record_context, self._on_record)
        except (xerror.ConnectionClosedError, xerror.XError, OSError) as err:
            if not self._stop.is_set():
                _log.info("key recording on %s ended: %s", self._display, err)

    def _on_record(self, reply: rq.DictWrapper) -> None:
        if reply.category != xrecord.FromServer or reply.client_swapped:
            return
        data: bytes = reply.data
        for offset in range(0, len(data) - _EVENT_SIZE + 1, _EVENT_SIZE):
            kind, server_time = _EVENT_HEAD.unpack_from(data, offset)
            if kind & 0x7F == X.KeyPress:
                self._keys.add(server_time)

    def _poll_loop(self) -> None:
        conn = self._poll_conn
        assert conn is not None
        next_keys = self._clock() + self._keys_seconds
        stopping = False
        try:
            while True:
                focus = _focused(conn)
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


def _focused(conn: Display) -> FocusInfo | None:
    """The focused top-level window, or None when it vanished while we looked."""
    try:
        focus = conn.get_input_focus().focus
        root = conn.screen().root
        if focus == X.PointerRoot:
            focus = root.query_pointer().child  # focus follows the pointer
        if not focus or focus == X.NONE or focus.id == root.id:
            return FocusInfo(None, None, None)
        top = _top_level(focus, root.id)
        client = _client_window(top) or top
        return FocusInfo(top.id, _title(conn, client), _wm_class(client))
    except xerror.XError:
        return None


def _top_level(window: Any, root_id: int) -> Any:
    """The ancestor of ``window`` whose parent is the root."""
    while True:
        parent = window.query_tree().parent
        if not parent or parent.id == root_id:
            return window
        window = parent


def _client_window(window: Any, depth: int = 3) -> Any | None:
    """The window carrying WM_STATE at or under ``window`` (a WM's frame holds it)."""
    wm_state = window.display.get_atom("WM_STATE")
    if window.get_property(wm_state, X.AnyPropertyType, 0, 0) is not None:
        return window
    if depth == 0:
        return None
    for child in window.query_tree().children:
        found = _client_window(child, depth - 1)
        if found is not None:
            return found
    return None


def _title(conn: Display, window: Any) -> str | None:
    utf8 = conn.get_atom("UTF8_STRING")
    for atom in (conn.get_atom("_NET_WM_NAME"), Xatom.WM_NAME):
        prop = window.get_full_property(atom, X.AnyPropertyType)
        if prop is not None and prop.format == 8 and prop.value:
            raw = bytes(prop.value)
            return raw.decode("utf-8" if prop.property_type == utf8 else "latin-1", "replace")
    return None


def _wm_class(window: Any) -> list[str] | None:
    prop = window.get_full_property(Xatom.WM_CLASS, X.AnyPropertyType)
    if prop is None or prop.format != 8:
        return None
    parts = bytes(prop.value).decode("latin-1", "replace").split("\0")
    return [part for part in parts if part][:2] or None
