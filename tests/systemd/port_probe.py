"""Who can serve and who can dial a loopback TCP port, as this network namespace's rules decide.

Run by test_rdp_guard.py as root in a fresh network namespace (its own nftables, loopback
up): ``python port_probe.py ACTIONS``, a JSON list run in order; prints one JSON list with
one outcome per action.

- ``{"op": "run", "argv": [...]}``: run a command (nft); outcome "ok" or its stderr.
- ``{"op": "dial", "host": ..., "port": ..., "server": UID, "client": UID}``: a socket made
  as ``server`` listens on host:port, one made as ``client`` connects to it; outcome "ok"
  (the handshake completed), "refused" or "timeout". ``server`` may be null: nobody listens.

A socket belongs to the uid that created it (what nftables' ``meta skuid`` matches), so the
probe switches its effective uid only around ``socket()``, and stays root otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

TIMEOUT_S = 1.0  # a handshake on loopback takes microseconds; a dropped one never completes


@contextlib.contextmanager
def as_uid(uid: int) -> Iterator[None]:
    os.setresuid(-1, uid, -1)
    try:
        yield
    finally:
        os.setresuid(-1, 0, -1)


def make_socket(uid: int, family: socket.AddressFamily) -> socket.socket:
    with as_uid(uid):
        return socket.socket(family, socket.SOCK_STREAM)


def dial(host: str, port: int, server: int | None, client: int) -> str:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.ExitStack() as stack:
        if server is not None:
            listener = stack.enter_context(make_socket(server, family))
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen()
        caller = stack.enter_context(make_socket(client, family))
        caller.settimeout(TIMEOUT_S)
        try:
            caller.connect((host, port))
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "timeout"
        return "ok"


def perform(action: dict[str, Any]) -> str:
    if action["op"] == "run":
        result = subprocess.run(action["argv"], capture_output=True, text=True, check=False)
        return "ok" if result.returncode == 0 else result.stderr.strip()
    return dial(action["host"], action["port"], action["server"], action["client"])


def main() -> None:
    actions = json.loads(sys.argv[1])
    print(json.dumps([perform(action) for action in actions]))


if __name__ == "__main__":
    main()
