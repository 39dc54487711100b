"""Which top-level window of an X display has the input focus: its id, title and WM_CLASS.

`focused` asks the server for the input focus (following the pointer under ``PointerRoot``),
walks up to the top-level window and down to the window that carries ``WM_STATE`` (a window
manager's frame holds the client window), and reads the title (``_NET_WM_NAME``, else
``WM_NAME``) and WM_CLASS there. Xvfb and many remote-desktop sessions have no window
manager, so there is no ``_NET_ACTIVE_WINDOW`` to read instead.

This module does not poll, keep state or write events (`AuditRecorder` does), and reads
nothing but window ids and those two properties: no pixels, no pointer position.
"""

from __future__ import annotations

from typing import Any

from Xlib import X, Xatom
from Xlib import error as xerror
from Xlib.display import Display


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


def focused(conn: Display) -> FocusInfo | None:
    """The focused top-level window, or None when it vanished while we looked.

    Raises:
        Xlib.error.ConnectionClosedError, OSError: the display went away.
    """
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
