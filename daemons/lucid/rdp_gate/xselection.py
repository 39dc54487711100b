"""Asking X selection owners for their data (ICCCM), on a connection someone else drives.

`Requestor` converts selections into a property of one window of its own and reads the
answer, INCR transfers included; it can learn an owner's formats, hash what an owner gives
without keeping it, tell which process a window belongs to (X-Resource) and refuse a
conversion asked of it. It owns no thread and no connection: every call is an X round trip
made in the caller's thread. Events that arrive while it waits for an answer and are not that
answer are kept in `Requestor.deferred` for the caller, except conversion requests to the
caller's windows, which are refused at once (nobody waits on a requestor).
"""

from __future__ import annotations

import hashlib
import logging
import select
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from Xlib import X
from Xlib.ext import res
from Xlib.protocol import event as xevent

log = logging.getLogger(__name__)

META_TARGETS = frozenset(
    {"TARGETS", "TIMESTAMP", "MULTIPLE", "SAVE_TARGETS", "DELETE", "INSERT_SELECTION"}
)
MAX_FORMATS = 16  # format names kept per answer ...
MAX_FORMAT_NAME = 64  # ... each cut to this many characters
CHUNK_LONGS = 1 << 18  # property read size in 32-bit units (1 MiB)
POLL_S = 0.2  # how often a wait looks at `closing`

Sink = Callable[[Any, int], None]  # (property value, format 8/16/32)


@dataclass(frozen=True)
class Measured:
    """One conversion: its format, byte count and SHA-256 (hex)."""

    format: str
    size: int
    sha256: str


def xid(value: Any) -> int:
    """The XID of a resource field, whether python-xlib gave an object or a number."""
    return int(getattr(value, "id", value) or 0)


class Requestor:
    """Selection requests through ``window`` of connection ``d``.

    Args:
        d: the connection (python-xlib ``Display``), used from one thread only.
        window: a window of ``d`` with ``PropertyChangeMask`` selected (INCR needs it).
        prop: the property atom answers land in.
        closing: when set, waits end at once (as if nobody answered).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        d: Any,
        window: Any,
        prop: int,
        closing: threading.Event,
        clock: Callable[[], float],
    ) -> None:
        self._d, self._window, self._prop = d, window, prop
        self._closing = closing
        self._clock = clock
        self._targets = d.intern_atom("TARGETS")
        self._incr = d.intern_atom("INCR")
        self._atoms: dict[int, str] = {}
        self.deferred: deque[Any] = deque()

    def client_pid(self, window: int) -> int:
        """The pid of the local client that made ``window`` (0 if the server cannot say)."""
        reply = self._d.res_query_client_ids([{"client": window, "mask": res.LocalClientPIDMask}])
        for value in reply.ids:
            if value.value:
                return int(value.value[0])
        return 0

    def atom_name(self, atom: int) -> str:
        if atom not in self._atoms:
            self._atoms[atom] = self._d.get_atom_name(atom)
        return self._atoms[atom]

    def refuse(self, ev: Any, onerror: Callable[..., None] | None = None) -> None:
        """Answer a conversion request with "no such conversion" (property None)."""
        notify = xevent.SelectionNotify(
            time=ev.time,
            requestor=ev.requestor,
            selection=ev.selection,
            target=ev.target,
            property=X.NONE,
        )
        ev.requestor.send_event(notify, onerror=onerror)
        self._d.flush()

    def formats(
        self, selection: int, timeout: float, when: int, take: bool = False
    ) -> list[str] | None:
        """The owner's formats (meta targets left out), or None if it did not say.

        With ``take`` the window becomes the owner in the same breath (see `convert`).
        """
        atoms: list[int] = []

        def sink(value: Any, fmt: int) -> None:
            atoms.extend(value)

        if self.convert(selection, self._targets, timeout, sink, when, take) is None:
            return None
        names = [self.atom_name(a)[:MAX_FORMAT_NAME] for a in atoms if a]
        return [n for n in dict.fromkeys(names) if n not in META_TARGETS][:MAX_FORMATS]

    def measure(
        self, selection: int, target_name: str, timeout: float, when: int
    ) -> Measured | None:
        """Size and SHA-256 of the owner's data in ``target_name``; the data is not kept."""
        digest, size = hashlib.sha256(), 0

        def sink(value: Any, fmt: int) -> None:
            nonlocal size
            data = value if isinstance(value, bytes) else value.tobytes()
            digest.update(data)
            size += len(data)

        target = self._d.intern_atom(target_name)
        if self.convert(selection, target, timeout, sink, when) is None:
            return None
        return Measured(target_name, size, digest.hexdigest())

    def convert(
        self,
        selection: int,
        target: int,
        timeout: float,
        sink: Sink,
        when: int,
        take: bool = False,
    ) -> int | None:
        """Convert ``selection`` to ``target`` into our property; feed the data to ``sink``.

        With ``take`` the window also takes the selection, in the same flush: the server
        hands the request to the current owner and only then changes owners, and owners
        answer a request they got before losing the selection. No round trip passes while a
        foreign owner holds it. ``when`` is the server time of the ownership change (0: now);
        owners repeat it in their answer, which tells it from a late answer to an earlier
        request. ``timeout`` applies to the answer and to each INCR chunk.
        Returns the property's type atom, or None if the owner refused or did not answer.
        """
        self._window.convert_selection(selection, target, self._prop, when)
        if take:
            self._window.set_selection_owner(selection, X.CurrentTime)
        self._d.flush()
        ev = self._wait(
            lambda e: (
                e.type == X.SelectionNotify
                and xid(e.requestor) == self._window.id
                and e.selection == selection
                and e.target == target
                and e.time in (when, X.CurrentTime)
            ),
            timeout,
        )
        if ev is None or ev.property == X.NONE:
            return None
        kind = self._read_property(sink, incr_start=True)
        if kind != self._incr:
            return kind
        while True:  # INCR: each new value is a chunk; an empty one ends the transfer
            ev = self._wait(
                lambda e: (
                    e.type == X.PropertyNotify
                    and xid(e.window) == self._window.id
                    and e.atom == self._prop
                    and e.state == X.PropertyNewValue
                ),
                timeout,
            )
            if ev is None:
                return None
            got = 0

            def counting(value: Any, fmt: int) -> None:
                nonlocal got
                got += len(value)
                sink(value, fmt)

            if self._read_property(counting, incr_start=False) is None:
                return None
            if got == 0:
                return kind

    def _read_property(self, sink: Sink, incr_start: bool) -> int | None:
        """Read and delete our property. An INCR marker is not data (``incr_start``)."""
        offset, kind = 0, None
        while True:
            prop = self._window.get_property(self._prop, X.AnyPropertyType, offset, CHUNK_LONGS)
            if prop is None:
                return None
            kind = prop.property_type
            if not (incr_start and kind == self._incr):
                sink(prop.value, prop.format)
            if not prop.bytes_after:
                break
            offset += CHUNK_LONGS
        self._window.delete_property(self._prop)
        self._d.flush()
        return int(kind)

    def _wait(self, wanted: Callable[[Any], bool], timeout: float) -> Any | None:
        """The next event ``wanted`` within ``timeout`` (None: none, or closing)."""
        d = self._d
        deadline = self._clock() + timeout
        while True:
            while d.pending_events():
                ev = d.next_event()
                if wanted(ev):
                    return ev
                if ev.type == X.SelectionRequest:
                    self.refuse(ev)
                else:
                    self.deferred.append(ev)
            left = deadline - self._clock()
            if left <= 0 or self._closing.is_set():
                return None
            select.select([d.fileno()], [], [], min(left, POLL_S))
