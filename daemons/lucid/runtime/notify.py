"""A dependency-free ``sd_notify``: READY=1, WATCHDOG=1, STOPPING=1, STATUS=.

Without ``NOTIFY_SOCKET`` (not started by systemd, or by ``lucid up``) every call is a
no-op by design: there is nobody to tell. Abstract sockets (``@…``) are supported.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send ``state`` to the service manager.

    Returns:
        True if a manager was told, False when ``NOTIFY_SOCKET`` is unset.
    Raises:
        OSError: the socket exists but the send failed.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True


def watchdog_interval() -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WATCHDOG_USEC``), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
