"""The waiting screen: a full-screen window on the session's display that says why it waits.

rdp_gate draws it itself, as an X client of the session's display (with the session's X
authority file), so nothing of the user's runs before approval except the start script
blocked in its D-Bus call. The window shows lines of text in the server's built-in
``fixed`` font (Xvnc has no other fonts unless font packages are installed) and redraws on
expose. All X calls happen in the screen's own thread (python-xlib is not thread safe);
`show` and `close` only hand it work.

`admit_local_user` adds ``SI:localuser:<name>`` to the display's access list (what ``xhost``
does), so the recorder's user may connect without reading the user's X authority file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import threading
from collections.abc import Iterator
from typing import Any

from Xlib import X
from Xlib import error as xerror
from Xlib.display import Display

log = logging.getLogger(__name__)

FONTS = ("-misc-fixed-bold-r-normal--18-*-*-*-*-*-iso10646-1", "10x20", "9x15bold", "fixed")
BACKGROUND = (0x1B, 0x2B, 0x3A)  # dark slate
FOREGROUND = (0xF2, 0xF2, 0xF2)
LINE_GAP = 8  # pixels between lines
POLL_S = 0.2  # the thread looks at its queue this often when X is quiet

_env_lock = threading.Lock()  # XAUTHORITY is process-wide: one connect at a time


class ScreenError(Exception):
    """The display could not be opened or drawn on."""


@contextlib.contextmanager
def _xauthority(path: str | None) -> Iterator[None]:
    with _env_lock:
        previous = os.environ.get("XAUTHORITY")
        if path:
            os.environ["XAUTHORITY"] = path
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("XAUTHORITY", None)
            else:
                os.environ["XAUTHORITY"] = previous


def connect(display: str, xauthority: str | None) -> Display:
    """Open ``display`` with the cookie in ``xauthority`` (None: the environment's).

    Raises:
        ScreenError: the server refused or is gone.
    """
    try:
        with _xauthority(xauthority):
            return Display(display)
    except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as err:
        raise ScreenError(f"cannot open display {display}: {err}") from err


def admit_local_user(display: str, xauthority: str | None, user: str) -> None:
    """Let local user ``user`` connect to ``display`` (``xhost +SI:localuser:<user>``).

    Raises:
        ScreenError: the display is gone or refused the change.
    """
    d = connect(display, xauthority)
    try:
        d.change_hosts(
            X.HostInsert, X.FamilyServerInterpreted, list(b"localuser\0" + user.encode())
        )
        d.sync()
    except (xerror.XError, xerror.ConnectionClosedError, OSError) as err:
        raise ScreenError(f"cannot admit {user} on {display}: {err}") from err
    finally:
        with contextlib.suppress(Exception):
            d.close()


def _pixel(d: Display, rgb: tuple[int, int, int]) -> int:
    colormap = d.screen().default_colormap
    return int(colormap.alloc_color(*(c * 257 for c in rgb)).pixel)


class WaitingScreen:
    """A window covering the whole screen with centred lines of text.

    Args:
        display: e.g. ``":10"``.
        xauthority: the session's X authority file.
        lines: the first text to show.
    """

    def __init__(self, display: str, xauthority: str | None, lines: list[str]) -> None:
        self.display = display
        self._xauthority = xauthority
        self._lines = list(lines)
        self._updates: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Connect, map the window and start drawing (blocking; call from a worker thread).

        Raises:
            ScreenError: the display cannot be opened.
        """
        d = connect(self.display, self._xauthority)
        try:
            screen = d.screen()
            background = _pixel(d, BACKGROUND)
            window = screen.root.create_window(
                0,
                0,
                screen.width_in_pixels,
                screen.height_in_pixels,
                0,
                screen.root_depth,
                X.InputOutput,
                X.CopyFromParent,
                background_pixel=background,
                override_redirect=True,
                event_mask=X.ExposureMask | X.StructureNotifyMask,
            )
            window.set_wm_name("Lucid: waiting for approval")
            window.set_wm_class("lucid-waiting", "Lucid")
            font = self._font(d)
            gc = window.create_gc(
                foreground=_pixel(d, FOREGROUND), background=background, font=font
            )
            window.map()
            d.sync()
        except (xerror.XError, xerror.ConnectionClosedError, OSError) as err:
            with contextlib.suppress(Exception):
                d.close()
            raise ScreenError(f"cannot draw on {self.display}: {err}") from err
        self._thread = threading.Thread(
            target=self._run, args=(d, window, gc, font), name=f"waiting{self.display}", daemon=True
        )
        self._thread.start()

    def show(self, lines: list[str]) -> None:
        """Replace the text (returns at once)."""
        self._updates.put(list(lines))

    def close(self) -> None:
        """Remove the window and disconnect (blocking until the thread ends, at most ~2 s)."""
        self._updates.put(None)
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    @staticmethod
    def _font(d: Display) -> Any:
        for name in FONTS:
            if d.list_fonts(name, 1):
                return d.open_font(name)
        raise ScreenError("the X server has no usable font (not even 'fixed')")

    def _draw(self, d: Display, window: Any, gc: Any, font: Any) -> None:
        geometry = window.get_geometry()
        info = font.query()
        line_h = info.font_ascent + info.font_descent + LINE_GAP
        top = max(0, (geometry.height - line_h * len(self._lines)) // 2)
        window.clear_area()
        for i, line in enumerate(self._lines):
            text = line.encode("latin-1", "replace")
            width = info.max_bounds.character_width * len(text)  # the fonts are monospaced
            x = max(10, (geometry.width - width) // 2)
            window.image_text(gc, x, top + i * line_h + info.font_ascent, text)
        d.flush()

    def _run(self, d: Display, window: Any, gc: Any, font: Any) -> None:
        try:
            dirty = True
            while True:
                try:
                    update = self._updates.get_nowait()
                except queue.Empty:
                    update = []
                if update is None:
                    break
                if update:
                    self._lines, dirty = update, True
                while d.pending_events():
                    if d.next_event().type == X.Expose:
                        dirty = True
                if dirty:
                    self._draw(d, window, gc, font)
                    dirty = False
                select.select([d.fileno()], [], [], POLL_S)
        except (xerror.XError, xerror.ConnectionClosedError, OSError) as err:
            log.info("waiting screen on %s ended: %s", self.display, err)
        finally:
            with contextlib.suppress(Exception):
                window.destroy()
                d.close()
