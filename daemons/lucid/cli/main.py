"""The ``lucid`` command: one entry point, subcommands in sibling modules.

Every error a user can cause or meet (bad file, wrong key, daemon down) ends as one line on
stderr and a non-zero exit status — never a traceback. Exit status 1 means "checked and
failed" (verification, a named daemon error); 2 means bad usage or unreadable input; 3 (only
``lucid verify --rpc``) means the chain could not be asked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from lucid.evidence.errors import EvidenceError, FormatError, KeyFileError
from lucid.runtime.errors import LucidError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lucid", description="Lucid: approved, recorded and sealed remote-desktop sessions"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_state(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--state", type=Path, help="state dir of a `lucid up` (else $LUCID_BUS)")

    up = sub.add_parser("up", help="run the daemon set on a private bus (embedded defaults)")
    up.add_argument("--state", type=Path, default=Path(".state/run"), help="state dir")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--desktop", action="store_true", help="record a live Xvfb desktop")
    up.add_argument(
        "--rdp-port",
        type=int,
        default=0,
        metavar="PORT",
        help="also run the gated RDP host (xrdp) on 127.0.0.1:PORT (needs root)",
    )
    down = sub.add_parser("down", help="stop a `lucid up`")
    down.add_argument("--state", type=Path, default=Path(".state/run"))
    status = sub.add_parser(
        "status", help="each daemon's state, one line each; exit 1 if one is degraded"
    )
    with_state(status)

    demo = sub.add_parser("demo", help="record, seal and export an N-second demo session")
    demo.add_argument("--seconds", type=float, default=10.0)
    demo.add_argument("--out", type=Path, required=True, help="directory for the bundle and key")
    demo.add_argument("--state", type=Path, help="keep the daemons' state here (default: temp)")
    demo.add_argument(
        "--chain-rpc",
        metavar="URL",
        help="anchor on this dev chain (contracts deployed there if needed), not a private anvil",
    )

    sessions = sub.add_parser(
        "sessions", help="list sessions and their state; pending, approve, deny, revoke requests"
    )
    with_state(sessions)
    from lucid.cli.gate import add_admin, add_session_actions

    add_session_actions(sessions)
    add_admin(sub)
    from lucid.cli.payouts import add_payouts

    add_payouts(sub)
    from lucid.cli.keys import add_keys

    add_keys(sub)
    from lucid.cli.trust import add_trust

    add_trust(sub)
    export = sub.add_parser("export", help="export a sealed session as one .lucid file")
    export.add_argument("session")
    export.add_argument("-o", "--output", type=Path, required=True)
    with_state(export)

    verify = sub.add_parser(
        "verify",
        help="verify an evidence bundle offline; say which device and approvers vouch for it",
        description="Exit status: 0 verified (and rooted in what you pinned), 1 a check "
        "failed (the FAILED line names the item), 2 not a bundle or bad input, "
        "3 the --rpc endpoint could not be asked. See docs/evidence.md §10.1.",
    )
    verify.add_argument("file", type=Path)
    verify.add_argument(
        "--trust",
        type=Path,
        metavar="TRUST.json",
        help="trust file exported from the device (`lucid trust export`, or its web page): "
        "the bundle must be signed by its device and approved by its approvers",
    )
    verify.add_argument(
        "--device-key",
        action="append",
        default=[],
        metavar="KEY",
        help="pin the device: its Ed25519 key (64 hex digits) or fingerprint (repeatable)",
    )
    verify.add_argument(
        "--approver",
        action="append",
        default=[],
        metavar="ACCOUNT=COSEKEY",
        help="pin an approver's passkey (COSE public key, base64url) (repeatable)",
    )
    verify.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    verify.add_argument(
        "--rpc",
        metavar="URL",
        help="also check the bundle's anchor proof against this EVM JSON-RPC endpoint",
    )

    play = sub.add_parser("play", help="decrypt a bundle's video into an ordinary MP4")
    play.add_argument("file", type=Path)
    play.add_argument("--key", type=Path, required=True, help="recipient key file")
    play.add_argument("-o", "--output", type=Path, required=True)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        status = _run(args)
    except KeyboardInterrupt:
        print("lucid: interrupted", file=sys.stderr)
        status = 130
    except (FormatError, KeyFileError) as err:
        print(f"lucid: {err}", file=sys.stderr)
        status = 2
    except (EvidenceError, LucidError) as err:
        print(f"lucid: {err}", file=sys.stderr)
        status = 1
    except OSError as err:  # e.g. an unwritable output path: say which, no traceback
        where = f" {err.filename}" if err.filename else ""
        print(f"lucid: {err.strerror or err}{where}", file=sys.stderr)
        status = 2
    sys.exit(status)


def _run(args: argparse.Namespace) -> int:
    if args.command == "verify":
        from lucid.cli.evidence_cmds import verify
        from lucid.evidence.trust import TrustFile, TrustRoots

        trust = None if args.trust is None else TrustFile.load(args.trust)
        roots = TrustRoots.build(trust, args.device_key, args.approver)
        return verify(args.file, quiet=args.quiet, rpc=args.rpc, roots=roots)
    if args.command == "trust":
        from lucid.cli.trust import export as trust_export

        return asyncio.run(trust_export(args.state, args.output))
    if args.command == "play":
        from lucid.cli.evidence_cmds import play

        return play(args.file, args.key, args.output)
    if args.command == "up":
        from lucid.cli.appliance import up

        return up(args.state, detach=args.detach, desktop=args.desktop, rdp_port=args.rdp_port)
    if args.command == "down":
        from lucid.cli.appliance import down

        return down(args.state)
    if args.command == "demo":
        from lucid.cli.demo import demo

        return asyncio.run(demo(args.seconds, args.out, args.state, args.chain_rpc))
    from lucid.cli import commands

    if args.command == "sessions" and args.action:
        from lucid.cli import gate

        return asyncio.run(gate.run_session_action(args))
    if args.command == "sessions":
        return asyncio.run(commands.sessions(args.state))
    if args.command == "admin":
        from lucid.cli import gate

        return asyncio.run(gate.enroll(args))
    if args.command == "payouts":
        from lucid.cli.payouts import run_payouts

        return asyncio.run(run_payouts(args))
    if args.command == "export":
        return asyncio.run(commands.export(args.state, args.session, args.output))
    if args.command == "keys":
        from lucid.cli.keys import run_keys

        return run_keys(args)
    if args.command == "status":
        from lucid.cli.status import status

        return asyncio.run(status(args.state))
    raise RuntimeError(f"unhandled command {args.command}")
