"""``lucid sessions pending|approve|deny|revoke`` and ``lucid admin enroll``: gatekeeper.

Approving signs gatekeeper's approval document with a soft passkey file (the same
WebAuthn assertion a browser would make): BeginApproval -> assert -> CompleteApproval, so
the CLI is an approver like the web page, never a way around the signature. Errors are
one line (``LucidError``), like the rest of the command.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

from lucid.cli.connect import connect_cli
from lucid.evidence.approvals import b64u
from lucid.evidence.softpasskey import SoftPasskey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import LucidError


class GateCliError(LucidError):
    """A gatekeeper command cannot go ahead (message says why)."""


def add_session_actions(sessions: argparse.ArgumentParser) -> None:
    """``pending``, ``approve``, ``deny``, ``revoke`` under ``lucid sessions``."""
    actions = sessions.add_subparsers(dest="action", metavar="ACTION")

    def state(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--state", type=Path, default=argparse.SUPPRESS, help="state dir")

    state(actions.add_parser("pending", help="requests waiting for approval"))
    approve = actions.add_parser("approve", help="approve a request with a passkey file")
    approve.add_argument("session")
    approve.add_argument("--passkey", type=Path, required=True, help="soft passkey file")
    approve.add_argument("--account", help="approving account (default: the passkey's)")
    approve.add_argument("--ttl", type=int, help="grant lifetime in seconds")
    approve.add_argument("--max-duration", type=int, help="longest session in seconds")
    for flag in ("clipboard", "file-transfer", "drives"):
        approve.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None)
    state(approve)
    for name, what in (("deny", "deny a pending request"), ("revoke", "end a grant now")):
        sp = actions.add_parser(name, help=what)
        sp.add_argument("session")
        sp.add_argument("--reason", default="")
        state(sp)


def add_admin(sub: Any) -> None:
    """``lucid admin enroll``."""
    admin = sub.add_parser("admin", help="accounts and passkeys")
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    enroll = actions.add_parser("enroll", help="create a soft passkey file and register it")
    enroll.add_argument("account")
    enroll.add_argument("--passkey", type=Path, required=True, help="key file to create")
    enroll.add_argument("--code", required=True, help="setup code or one-time enrollment code")
    enroll.add_argument("--alg", choices=("ES256", "Ed25519"), default="ES256")
    enroll.add_argument("--state", type=Path, help="state dir of a `lucid up` (else $LUCID_BUS)")


async def run_session_action(args: argparse.Namespace) -> int:
    bus = await connect_cli(args.state)
    try:
        gk = GatekeeperClient(bus)
        if args.action == "pending":
            return _print_pending(json.loads(await gk.list_requests("pending")))
        if args.action == "deny":
            await gk.deny(args.session, "", args.reason)  # recorded as console:<unix user>
            print(f"{args.session} denied")
            return 0
        if args.action == "revoke":
            await gk.revoke(args.session, "", args.reason)  # recorded as console:<unix user>
            print(f"{args.session} revoked")
            return 0
        state = await _approve(gk, args)
        print(f"{args.session} {state}")
        return 0
    finally:
        bus.disconnect()


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name anywhere (e.g. a bare container)
        return "cli"


async def _approve(gk: GatekeeperClient, args: argparse.Namespace) -> str:
    key = SoftPasskey.load(args.passkey)
    account = args.account or await _account_of(gk, key)
    scope = ""
    changes = {
        "ttl_s": args.ttl,
        "max_duration_s": args.max_duration,
        "clipboard": args.clipboard,
        "file_transfer": args.file_transfer,
        "drives": args.drives,
    }
    if any(v is not None for v in changes.values()):
        requested = json.loads(await gk.get_request(args.session))["request"]["requested_scope"]
        scope = json.dumps(requested | {k: v for k, v in changes.items() if v is not None})
    document, options = await gk.begin_approval(args.session, account, "approve", scope)
    origin = json.loads((await gk.get_policy())[0])["origins"][0]
    try:
        credential = key.assert_(options, origin)
    except ValueError as err:
        raise GateCliError(f"{args.passkey}: {err}") from None
    return await gk.complete_approval(args.session, document, credential)


async def _account_of(gk: GatekeeperClient, key: SoftPasskey) -> str:
    wanted = b64u(key.credential_id)
    for account in json.loads(await gk.list_accounts()):
        if any(c["id"] == wanted for c in account["credentials"]):
            return str(account["account"])
    raise GateCliError("this passkey is not registered with gatekeeper; give --account")


def _print_pending(rows: list[dict[str, Any]]) -> int:
    if not rows:
        print("no pending requests")
        return 0
    print(f"{'SESSION':<32} {'USER':<12} {'TARGET':<12} {'SOURCE':<16} {'UNTIL':<24} SCOPE")
    for row in rows:
        req, scope = row["request"], row["request"]["requested_scope"]
        flags = [k for k in ("clipboard", "file_transfer", "drives") if scope[k]]
        what = f"ttl {scope['ttl_s']}s max {scope['max_duration_s']}s {'+'.join(flags) or '-'}"
        print(
            f"{row['id']:<32} {req['user']:<12} {req['target']:<12} {req['source'] or '-':<16} "
            f"{row['pending_until']:<24} {what}"
        )
    return 0


async def enroll(args: argparse.Namespace) -> int:
    """Create ``--passkey`` (never overwriting one) and register it for ``account``."""
    if args.passkey.exists():
        raise GateCliError(f"{args.passkey}: already exists; refusing to overwrite a key")
    bus = await connect_cli(args.state)
    try:
        gk = GatekeeperClient(bus)
        key = SoftPasskey.generate(args.alg)
        options = await gk.begin_registration(args.account)
        origin = json.loads((await gk.get_policy())[0])["origins"][0]
        try:
            credential = key.register(options, origin)
        except ValueError as err:
            raise GateCliError(f"passkey registration: {err}") from None
        key.save(args.passkey)  # before registering: a registered key is never lost
        try:
            cred_id = await gk.complete_registration(args.account, credential, args.code)
        except BaseException:
            args.passkey.unlink(missing_ok=True)
            raise
    finally:
        bus.disconnect()
    print(f"{args.account}: passkey {cred_id} ({args.alg}) in {args.passkey}")
    return 0
