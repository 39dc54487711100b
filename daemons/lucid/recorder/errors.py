"""The recorder's exception tree.

    RecorderError
    ├── DisplayUnavailableError   the X display cannot be opened (or read)
    ├── SpoolFullError            the RAM spool refused bytes (ENOSPC / EDQUOT)
    └── EncoderError              no H.264 encoder opens, or one fails mid-stream

Every message is one line a person can act on. This module does not map D-Bus
error names: the service adapter does that at its boundary.
"""

from __future__ import annotations

__all__ = [
    "DisplayUnavailableError",
    "EncoderError",
    "RecorderError",
    "SpoolFullError",
]


class RecorderError(Exception):
    """Root of every error the recorder's domain modules raise."""


class DisplayUnavailableError(RecorderError):
    """The session's X display cannot be opened or read."""

    def __init__(self, display: str, xauthority: str | None, reason: str) -> None:
        """Build the message from the display, the Xauthority file and the cause.

        Args:
            display: the X display name, e.g. ``":10"``.
            xauthority: the XAUTHORITY path used, or None for the environment's.
            reason: what the X library or FFmpeg said.
        """
        self.display = display
        self.xauthority = xauthority
        shown = xauthority if xauthority is not None else "(inherited)"
        super().__init__(
            f"cannot open X display {display!r} with XAUTHORITY={shown}: {reason}; "
            "check that the session's X server runs and that the recorder may read "
            "its Xauthority file"
        )


class SpoolFullError(RecorderError):
    """Writing the spool failed because the file system is full or over quota."""

    def __init__(self, path: str, reason: str) -> None:
        """Build the message from the file being written and the OS error.

        Args:
            path: the spool file that could not be written.
            reason: the OS error text.
        """
        self.path = path
        super().__init__(
            f"spool full while writing {path}: {reason}; free RAM spool space "
            "(is the chunker draining it?) or enlarge the spool tmpfs"
        )


class EncoderError(RecorderError):
    """No H.264 encoder could be opened, or the encoder failed while encoding."""
