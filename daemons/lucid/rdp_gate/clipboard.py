"""The clipboard guard: what crosses between an RDP client and its session, per grant.

With xrdp's ``cliprdr`` channel on, the session's chansrv (an X client of the session's
display) bridges the RDP client's clipboard and the session's CLIPBOARD selection (measured,
docs/rdp.md): when the client copies, chansrv becomes CLIPBOARD owner and fetches the data
from the client whenever a session program asks for it; when a session program becomes
owner, chansrv sends its formats to the client and fetches the data when the client pastes.
chansrv 0.9.21 does not bridge PRIMARY.

`ClipboardGuard` is rdp_gate's own X client on the session's display. It watches who owns
CLIPBOARD and PRIMARY (XFixes) and tells chansrv from session programs by the owner's
process (X-Resource client pid, then ``is_bridge``). What it does depends on its mode:

* `Mode.BLOCK` (from session start until approval, and for the whole session when the grant
  has no clipboard): whenever chansrv or a session program becomes owner of a selection
  chansrv bridges, the guard asks the owner for its formats (TARGETS) and takes the
  selection in the same request batch, with a window that refuses every conversion. Taken
  offers are reported per burst as ``clipboard.blocked`` (direction ``to_session`` when
  chansrv offered the client's clipboard, ``to_client`` when a session program offered its
  own; ``takeovers`` counts them).
* `Mode.AUDIT` (the grant allows the clipboard): owns nothing; on each new owner of a
  bridged selection it converts the selection itself, passes the bytes through SHA-256 as
  they arrive (INCR included) and reports ``clipboard.transfer`` with direction, formats,
  the format measured, byte count and hash. A transfer is the offer: what the other side
  can paste from then on, whether or not it does.

Reports are ``on_event(kind, fields)`` from the guard's thread. They carry sizes, format
names (atom names, cut short) and hashes; the guard never keeps, logs or reports content.

What it cannot do: the X protocol cannot stop chansrv from taking a selection, so in
`Mode.BLOCK` a program that asks for the selection in the few milliseconds before the
guard takes it back is served by chansrv (a program polling the clipboard does catch
copies; docs/rdp.md has the numbers). And chansrv keeps one pending text request: in `Mode.AUDIT` a
paste in the same instant as the guard's measurement can make one of the two wait for
nothing (the guard then measures again). All X calls happen in the guard's thread
(python-xlib is not thread safe); `set_mode` and `close` only hand it work.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from Xlib import X
from Xlib import error as xerror
from Xlib.ext import xfixes
from Xlib.protocol import request as xrequest

from lucid.rdp_gate.waiting import ScreenError, connect
from lucid.rdp_gate.xselection import MAX_FORMATS, Requestor, xid

log = logging.getLogger(__name__)

SELECTIONS = ("CLIPBOARD", "PRIMARY")
FROM_SESSION = frozenset({"CLIPBOARD"})  # what chansrv reads from session programs
MEASURE_FIRST = (  # the format a transfer is measured in: the first of these offered
    "UTF8_STRING",
    "text/plain;charset=utf-8",
    "STRING",
    "TEXT",
    "text/plain",
    "image/png",
    "image/bmp",
    "text/uri-list",
    "x-special/gnome-copied-files",
)
TARGETS_TIMEOUT_S = 0.5  # an owner must list its formats within this (BLOCK asks before taking)
REPLY_TIMEOUT_S = 5.0  # an owner must answer a conversion (and each INCR chunk) within this
MEASURE_ATTEMPTS = 2  # chansrv keeps one text request: a paste at the same time can drop ours
BURST_GAP_S = 1.0  # blocked offers closer than this are one report (a burst) ...
BURST_MAX_S = 10.0  # ... that is reported after this long even if it goes on
POLL_S = 0.2  # the thread looks at its queue this often when X is quiet
PROPERTY = "LUCID_CLIPBOARD"  # where conversions for the guard land (on its own window)

OnEvent = Callable[[str, dict[str, Any]], None]


class Mode(Enum):
    BLOCK = "block"
    AUDIT = "audit"


@dataclass
class _Burst:
    """Blocked offers in one direction, each less than `BURST_GAP_S` after the one before."""

    first: float  # monotonic
    last: float = 0.0
    takeovers: int = 0
    formats: dict[str, None] = field(default_factory=dict)  # ordered set
    first_at: str = field(default_factory=lambda: _now())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def measure_first(formats: list[str]) -> str | None:
    """The format a transfer is measured in (None: nothing but meta targets)."""
    for name in MEASURE_FIRST:
        if name in formats:
            return name
    return formats[0] if formats else None


class ClipboardGuard:
    """Guard (`Mode.BLOCK`) or audit (`Mode.AUDIT`) a session display's clipboard.

    Args:
        display: e.g. ``":10"``.
        xauthority: the session's X authority file.
        is_bridge: True for the pid of the session's chansrv.
        on_event: told ``(kind, fields)`` from the guard's thread for each report.
        mode: the first mode; `set_mode` changes it.
        reason: goes into ``clipboard.blocked`` as ``reason``.
    """

    def __init__(
        self,
        display: str,
        xauthority: str | None,
        is_bridge: Callable[[int], bool],
        on_event: OnEvent,
        mode: Mode = Mode.BLOCK,
        reason: str = "pending_approval",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.display = display
        self._xauthority = xauthority
        self._is_bridge = is_bridge
        self._on_event = on_event
        self._mode = mode
        self._reason = reason
        self._clock = clock
        self._commands: queue.SimpleQueue[tuple[Mode, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # ends a conversion the thread waits for
        self._foreign_at: dict[int, tuple[int, str]] = {}  # selection -> (server ms, direction)
        self._bursts: dict[tuple[str, str], _Burst] = {}  # (direction, selection) -> burst
        self._last_transfer: dict[str, tuple[float, object]] = {}  # direction -> (when, what)

    # -- the owner's side ---------------------------------------------------------------------

    def open(self) -> None:
        """Connect, start watching, take what needs taking (blocking; from a worker thread).

        Raises:
            ScreenError: the display cannot be opened or lacks XFIXES or X-Resource.
        """
        d = connect(self.display, self._xauthority)
        try:
            for name in ("XFIXES", "X-Resource"):
                if not d.has_extension(name):
                    raise ScreenError(f"{self.display} has no {name} extension")
            d.xfixes_query_version()
            d.set_error_handler(self._x_error)
            window = d.screen().root.create_window(
                -10, -10, 1, 1, 0, 0, X.InputOnly, X.CopyFromParent,
                event_mask=X.PropertyChangeMask,
            )  # fmt: skip
            window.set_wm_name("Lucid: clipboard guard")
            self._d, self._window = d, window
            self._x = Requestor(d, window, d.intern_atom(PROPERTY), self._closing, self._clock)
            self._selections = {d.intern_atom(name): name for name in SELECTIONS}
            # python-xlib clones extension event classes per display: match (code, subcode)
            self._owner_notify = tuple(d.extension_event.SetSelectionOwnerNotify)
            for atom in self._selections:
                d.xfixes_select_selection_input(
                    window, atom, xfixes.XFixesSetSelectionOwnerNotifyMask
                )
            d.sync()
            self._sweep()
        except (xerror.XError, xerror.ConnectionClosedError, OSError) as err:
            with contextlib.suppress(Exception):
                d.close()
            raise ScreenError(f"cannot guard the clipboard of {self.display}: {err}") from err
        self._thread = threading.Thread(
            target=self._run, name=f"clipboard{self.display}", daemon=True
        )
        self._thread.start()

    def set_mode(self, mode: Mode, reason: str = "") -> None:
        """Switch to ``mode`` (returns at once); ``reason`` is what blocked events say."""
        self._commands.put((mode, reason))

    def close(self) -> None:
        """Let go of the selections and disconnect (blocking until the thread ends, < 1 s)."""
        self._closing.set()
        self._commands.put(None)
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    # -- the guard's thread ------------------------------------------------------------------

    def _run(self) -> None:
        d = self._d
        try:
            while True:
                with contextlib.suppress(queue.Empty):
                    command = self._commands.get_nowait()
                    if command is None:
                        break
                    try:
                        self._switch(*command)
                    except xerror.XError as err:  # an owner went away while we looked
                        log.debug("clipboard guard on %s: %s", self.display, err)
                deferred = self._x.deferred
                while deferred or d.pending_events():
                    self._handle(deferred.popleft() if deferred else d.next_event())
                self._end_bursts()
                select.select([d.fileno()], [], [], POLL_S)
        except (xerror.ConnectionClosedError, OSError) as err:
            log.info("clipboard guard on %s ended: %s", self.display, err)
        finally:
            self._end_bursts(force=True)
            with contextlib.suppress(Exception):
                d.close()

    def _x_error(self, err: Exception, request: Any = None) -> None:
        # asynchronous errors: a requestor or owner window that went away meanwhile
        log.debug("clipboard guard on %s: %s", self.display, err)

    def _switch(self, mode: Mode, reason: str) -> None:
        self._end_bursts(force=True)  # what was blocked so far was blocked for the old reason
        self._mode, self._reason = mode, reason or self._reason
        log.info("clipboard of %s: %s (%s)", self.display, mode.value, self._reason)
        if mode is Mode.AUDIT:
            for atom in self._selections:
                if xid(self._d.get_selection_owner(atom)) == self._window.id:
                    xrequest.SetSelectionOwner(
                        display=self._d.display, window=X.NONE, selection=atom, time=X.CurrentTime
                    )
            self._d.sync()
        else:
            self._sweep()

    def _sweep(self) -> None:
        """Act on the current owners as if each had just taken its selection."""
        for atom in self._selections:
            self._owner_changed(atom, xid(self._d.get_selection_owner(atom)), 0)

    def _handle(self, ev: Any) -> None:
        try:
            if (ev.type, getattr(ev, "sub_code", None)) == self._owner_notify:
                self._owner_changed(ev.selection, xid(ev.owner), ev.timestamp)
            elif ev.type == X.SelectionRequest:
                self._x.refuse(ev, onerror=self._x_error)
        except xerror.XError as err:  # a window went away while we looked
            log.debug("clipboard guard on %s: %s", self.display, err)

    def _owner_changed(self, selection: int, owner: int, server_ms: int) -> None:
        name = self._selections.get(selection)
        if name is None:
            return
        if owner == self._window.id:
            taken = self._foreign_at.pop(selection, None)
            if taken is not None and taken[0] and server_ms:
                log.debug(
                    "clipboard of %s: took %s (%s) %d ms after its owner did",
                    self.display, name, taken[1], (server_ms - taken[0]) & 0xFFFFFFFF,
                )  # fmt: skip
            return
        if not owner:
            return
        bridge = self._is_bridge(self._x.client_pid(owner))
        if not bridge and name not in FROM_SESSION:
            return  # a session program's PRIMARY: chansrv does not read it
        direction = "to_session" if bridge else "to_client"
        if self._mode is Mode.BLOCK:
            self._foreign_at[selection] = (server_ms, direction)
            formats = self._x.formats(selection, TARGETS_TIMEOUT_S, server_ms, take=True) or []
            self._blocked(direction, name, formats)
            return
        offered = self._x.formats(selection, REPLY_TIMEOUT_S, server_ms)
        target = measure_first(offered or [])
        measured = None
        for _attempt in range(MEASURE_ATTEMPTS):
            measured = (
                self._x.measure(selection, target, REPLY_TIMEOUT_S, server_ms) if target else None
            )
            if measured is not None or xid(self._d.get_selection_owner(selection)) != owner:
                break
        if offered is None or measured is None or measured.size == 0:
            log.info("clipboard of %s: %s offer could not be measured", self.display, name)
            return
        if self._repeated(direction, (measured.size, measured.sha256)):
            return
        self._report(
            "clipboard.transfer",
            {
                "direction": direction,
                "selection": name,
                "formats": offered,
                "format": measured.format,
                "bytes": measured.size,
                "sha256": measured.sha256,
            },
        )

    # -- reports ------------------------------------------------------------------------------

    def _repeated(self, direction: str, what: object) -> bool:
        """True if ``what`` was offered in ``direction`` just before: one copy on the client
        makes chansrv take the selection twice within milliseconds (measured)."""
        now = self._clock()
        last = self._last_transfer.get(direction)
        self._last_transfer[direction] = (now, what)
        return last is not None and last[1] == what and now - last[0] < BURST_GAP_S

    def _blocked(self, direction: str, selection: str, formats: list[str]) -> None:
        """Count a taken-back offer into its burst (one copy is often two offers, and a
        program fighting the guard makes thousands: one report per burst)."""
        now = self._clock()
        burst = self._bursts.setdefault((direction, selection), _Burst(now))
        burst.last = now
        burst.takeovers += 1
        burst.formats.update(dict.fromkeys(formats))

    def _end_bursts(self, force: bool = False) -> None:
        now = self._clock()
        for (direction, selection), burst in list(self._bursts.items()):
            if force or now - burst.last >= BURST_GAP_S or now - burst.first >= BURST_MAX_S:
                del self._bursts[(direction, selection)]
                fields = {
                    "direction": direction,
                    "reason": self._reason,
                    "selection": selection,
                    "formats": list(burst.formats)[:MAX_FORMATS],
                    "takeovers": burst.takeovers,
                    "first_at": burst.first_at,
                }
                self._report("clipboard.blocked", fields)

    def _report(self, kind: str, fields: dict[str, Any]) -> None:
        try:
            self._on_event(kind, {**fields, "at": _now()})
        except Exception as err:  # the owner's callback must not end the guard
            log.error("clipboard guard on %s: reporting %s failed: %s", self.display, kind, err)
