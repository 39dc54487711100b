"""lucid-pam-gate: the approval gate for PAM logins such as SSH (pam_exec, account phase).

Run by ``pam_exec.so`` as ``python -m lucid.rdp_gate.pam_gate [--bus ADDRESS] [--timeout S]``
with ``PAM_USER``, ``PAM_RHOST``, ``PAM_SERVICE`` and ``PAM_TYPE`` in its environment. It files
a session request with gatekeeper (user, remote host, target = the user, the requested scope
of ``[rdp_gate]``), prints the request id (``pam_exec stdout`` shows it to the user where the
service can), waits for the decision and exits 0 only if the request was approved; denied,
expired, timed out, or any error: 1. Fail closed.

Only for services that run each login in its own process (sshd): it blocks its PAM
conversation until decided. Never for xrdp-sesman, which serialises PAM (docs/rdp.md). It
does not record the login: an SSH session has no display; the grant then simply runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.bus import bus_address, connect
from lucid.runtime.config import load_config
from lucid.runtime.errors import LucidError, NotFoundError
from lucid.runtime.ids import new_session_id

POLL_S = 0.5  # how often the decision is read (a login waits minutes; this is cheap)


async def gate(bus: str | None, user: str, rhost: str, service: str, timeout_s: float) -> int:
    """File the request and wait. Returns the exit status (0 = approved)."""
    cfg = load_config()
    rg = cfg.rdp_gate
    conn = await connect(bus_address(bus or cfg.bus.address))
    try:
        gatekeeper = GatekeeperClient(conn)
        session = new_session_id(service.replace("_", "-")[:16] or "pam")
        await gatekeeper.request_session(
            {
                "id": session,
                "user": user,
                "source": rhost,
                "target": user,
                "requested_scope": {
                    "ttl_s": rg.ttl_s,
                    "max_duration_s": rg.max_duration_s,
                    "clipboard": rg.clipboard,
                    "file_transfer": rg.file_transfer,
                    "drives": rg.drives,
                },
            }
        )
        print(f"Lucid: request {session} waits for an administrator's approval.", flush=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            state = ""
            with contextlib.suppress(NotFoundError):
                state = (await gatekeeper.get_grant(session)).get("state", "")
            if state in ("approved", "active"):
                print(f"Lucid: request {session} approved.", flush=True)
                return 0
            if state not in ("pending", ""):
                print(f"Lucid: request {session} was {state}.", flush=True)
                return 1
            await asyncio.sleep(POLL_S)
        print(f"Lucid: request {session} was not decided in time.", flush=True)
        return 1
    finally:
        conn.disconnect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lucid-pam-gate", description=__doc__.split("\n")[0])
    parser.add_argument("--bus", default="", help="D-Bus address (default: config, system bus)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait at most")
    args = parser.parse_args(argv)
    env = os.environ
    if env.get("PAM_TYPE", "account") != "account":
        print("lucid-pam-gate belongs in the account phase", file=sys.stderr)
        return 1
    user = env.get("PAM_USER", "")
    if not user:
        print("lucid-pam-gate: no PAM_USER", file=sys.stderr)
        return 1
    try:
        return asyncio.run(
            gate(
                args.bus or None,
                user,
                env.get("PAM_RHOST", ""),
                env.get("PAM_SERVICE", "pam"),
                args.timeout,
            )
        )
    except (LucidError, OSError) as err:
        print(f"lucid-pam-gate: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
