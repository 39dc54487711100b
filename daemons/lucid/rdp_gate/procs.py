"""Which xrdp session a process belongs to, read from /proc — never from what it says.

sesman 0.9 runs each session under a child of its own (``xrdp-sesman``, root): that child
starts the X server and the start script as the session's user. `find_session` walks from
a process up to that child and finds the X server among its children: same user, an X
server binary, a ``:N`` display argument. The X authority file is the server's ``-auth``
argument (relative to the server's working directory, the user's home).

A process is identified by (pid, start time) so that a recycled pid is never mistaken for
the X server it replaced; `terminate` checks that before it sends SIGTERM.
This module does not talk to the bus or to X.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
SESMAN_COMM = "xrdp-sesman"  # the session child keeps its parent's name (fork, no exec)
CHANSRV_COMM = "xrdp-chansrv"  # the session's channel server (clipboard bridge)
X_SERVERS = ("Xvnc", "Xorg", "X")


class NoSessionError(Exception):
    """The process is not part of an xrdp session (or it is gone)."""


@dataclass(frozen=True)
class ProcId:
    pid: int
    start: int  # start time in clock ticks after boot (/proc/<pid>/stat field 22)


@dataclass(frozen=True)
class XServer:
    """A session's X server: process, display number, X authority file."""

    proc: ProcId
    uid: int
    display: int
    auth_file: str  # "" if the server was started without -auth

    @property
    def name(self) -> str:
        return f":{self.display}"


def _stat(pid: int) -> tuple[str, int, int]:
    """(comm, ppid, start ticks) of ``pid``."""
    text = (PROC / str(pid) / "stat").read_text()
    # comm is in parentheses and may itself contain spaces or parentheses
    comm = text[text.index("(") + 1 : text.rindex(")")]
    rest = text[text.rindex(")") + 2 :].split()
    return comm, int(rest[1]), int(rest[19])


def _uid(pid: int) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # real uid
    raise NoSessionError(f"process {pid} has no Uid line")


def _cmdline(pid: int) -> list[str]:
    raw = (PROC / str(pid) / "cmdline").read_bytes()
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def proc_id(pid: int) -> ProcId:
    """The (pid, start time) of a running process.

    Raises:
        NoSessionError: no such process.
    """
    try:
        return ProcId(pid, _stat(pid)[2])
    except (OSError, ValueError, IndexError) as err:
        raise NoSessionError(f"process {pid} is gone") from err


def alive(proc: ProcId) -> bool:
    """True if ``proc`` still runs (and its pid was not reused); zombies count as gone."""
    try:
        text = (PROC / str(proc.pid) / "stat").read_text()
        state = text[text.rindex(")") + 2 :].split()[0]
        return state != "Z" and _stat(proc.pid)[2] == proc.start
    except (OSError, ValueError, IndexError):
        return False


def terminate(proc: ProcId) -> bool:
    """SIGTERM ``proc`` if it still is that process. Returns True if a signal was sent."""
    if not alive(proc):
        return False
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def _children(ppid: int) -> list[int]:
    out = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if _stat(int(entry.name))[1] == ppid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # exited while we looked
    return out


def _display_arg(argv: list[str]) -> int | None:
    for arg in argv[1:]:
        if arg.startswith(":") and arg[1:].isdigit():
            return int(arg[1:])
    return None


def _auth_arg(pid: int, argv: list[str]) -> str:
    for i, arg in enumerate(argv[:-1]):
        if arg == "-auth":
            path = argv[i + 1]
            if not path.startswith("/"):
                path = os.path.join(os.readlink(PROC / str(pid) / "cwd"), path)
            return path
    return ""


def find_session(pid: int, uid: int) -> XServer:
    """The X server of the xrdp session that process ``pid`` (running as ``uid``) is in.

    Raises:
        NoSessionError: ``pid`` is not under a sesman session child, or that session has
            no X server of ``uid``.
    """
    try:
        if _uid(pid) != uid:
            raise NoSessionError(f"process {pid} does not run as uid {uid}")
        current = pid
        for _ in range(64):  # session depth is small; a loop guard, not a limit anyone hits
            comm, ppid, _start = _stat(current)
            if comm == SESMAN_COMM and _uid(current) == 0:
                break
            if ppid <= 1:
                raise NoSessionError(f"process {pid} is not part of an xrdp session")
            current = ppid
        else:
            raise NoSessionError(f"process {pid} is too deep below any session")
        for child in _children(current):
            argv = _cmdline(child)
            if not argv or os.path.basename(argv[0]) not in X_SERVERS or _uid(child) != uid:
                continue
            display = _display_arg(argv)
            if display is None:
                continue
            return XServer(proc_id(child), uid, display, _auth_arg(child, argv))
    except (OSError, ValueError, IndexError) as err:
        raise NoSessionError(f"cannot read process {pid}'s session: {err}") from err
    raise NoSessionError(f"the session of process {pid} has no X server of uid {uid}")


def is_chansrv(pid: int, x: XServer) -> bool:
    """True if ``pid`` is the chansrv of ``x``'s session.

    That is: it runs ``xrdp-chansrv``, as the X server's user, under the same sesman session
    child as the X server. Anything else (another session's chansrv, a program that names
    itself so) is not.
    """
    try:
        comm, ppid, _start = _stat(pid)
        return (
            comm == CHANSRV_COMM
            and ppid == _stat(x.proc.pid)[1]
            and _uid(pid) == _uid(x.proc.pid)
            and alive(x.proc)
        )
    except (OSError, ValueError, IndexError, NoSessionError):
        return False
