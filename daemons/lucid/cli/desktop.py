"""A live X desktop for demos and tests: Xvfb with something moving on it.

Off the device there is no RDP session to record yet, so ``lucid up`` / ``lucid demo`` start a
private Xvfb (``-nolisten tcp``, unix socket only) and an animated X client. This module only
starts and stops those processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from lucid.runtime.errors import LucidError
from lucid.runtime.supervisor import detach_child

X11_DIR = Path("/tmp/.X11-unix")
MOVERS = (["ico", "-faces", "-sleep", "0.03"], ["xclock", "-update", "1"], ["xeyes"])


class DesktopError(LucidError):
    """Xvfb could not be started."""


@dataclass
class Desktop:
    display: str
    xvfb: subprocess.Popen[bytes]
    clients: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            argv,
            env=os.environ | {"DISPLAY": self.display},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            preexec_fn=detach_child,
        )
        self.clients.append(proc)
        return proc

    def stop(self) -> None:
        for proc in [*self.clients, self.xvfb]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _free_display(start: int = 90) -> int:
    for n in range(start, start + 200):
        if not (X11_DIR / f"X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise DesktopError("no free X display number between :90 and :289")


def start_desktop(width: int = 1280, height: int = 720, moving: bool = True) -> Desktop:
    """Start Xvfb on a free display, optionally with animated clients; wait for its socket.

    Raises:
        DesktopError: Xvfb is missing or did not come up within 10 s.
    """
    if shutil.which("Xvfb") is None:
        raise DesktopError("Xvfb is not installed (apt-get install xvfb); run `make setup`")
    for _attempt in range(5):
        n = _free_display()
        proc = subprocess.Popen(
            [
                "Xvfb",
                f":{n}",
                "-screen",
                "0",
                f"{width}x{height}x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            preexec_fn=detach_child,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if (X11_DIR / f"X{n}").exists():
                desktop = Desktop(display=f":{n}", xvfb=proc)
                if moving:
                    for argv in MOVERS:
                        if shutil.which(argv[0]):
                            desktop.spawn(argv)
                            break
                return desktop
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
    raise DesktopError("Xvfb did not start (display numbers taken or Xvfb failing)")
