"""``lucid payouts``: tron-node's payout ledger; ``run`` pays an epoch now; ``credits`` shows
the work credits of an epoch by the rule of docs/payouts.md."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lucid.cli.connect import connect_cli
from lucid.tron_node.client import TronNodeClient


def add_payouts(sub: Any) -> None:
    """``lucid payouts [list|run|credits]``."""
    payouts = sub.add_parser("payouts", help="host payouts (USDT-TRC20): ledger, run, credits")
    payouts.add_argument("--state", type=Path, help="state dir of a `lucid up` (else $LUCID_BUS)")
    actions = payouts.add_subparsers(dest="action", metavar="ACTION")

    def state(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--state", type=Path, default=argparse.SUPPRESS, help="state dir")

    state(actions.add_parser("list", help="the payout ledger (the default)"))
    run = actions.add_parser("run", help="pay the last completed epoch (or --epoch N) now")
    run.add_argument("--epoch", type=int, default=-1, help="epoch number (default: last ended)")
    state(run)
    credits = actions.add_parser("credits", help="work credits of an epoch")
    credits.add_argument("--epoch", type=int, default=-1, help="epoch number (default: current)")
    state(credits)


def usdt(base_units: str) -> str:
    amount = int(base_units or 0)
    return f"{amount // 1_000_000}.{amount % 1_000_000:06d}"


async def run_payouts(args: argparse.Namespace) -> int:
    bus = await connect_cli(args.state)
    try:
        client = TronNodeClient(bus)
        if args.action == "run":
            return _print_rows([await client.run_payouts(args.epoch)])
        if args.action == "credits":
            return _print_credits(await client.get_credits(args.epoch))
        return _print_rows(await client.list_payouts())
    finally:
        bus.disconnect()


def _print_rows(rows: list[dict[str, str]]) -> int:
    if not rows:
        print("no payouts")
        return 0
    print(f"{'EPOCH':>10} {'PAYEE':<34} {'USDT':>14} {'STATE':<10} {'TXID':<16} PROBLEM")
    for r in rows:
        problem = f"{r['error'].rsplit('.', 1)[-1]}: {r['message']}" if r["error"] else ""
        print(
            f"{r['epoch']:>10} {r['payee']:<34} {usdt(r['amount']):>14} {r['state']:<10} "
            f"{r['txid'][:16]:<16} {problem}"
        )
    return 0


def _print_credits(c: dict[str, str]) -> int:
    print(
        f"epoch {c['epoch']} [{c['start']}, {c['end']}): "
        f"uptime {c['heartbeats']}/{c['heartbeats_per_epoch']} heartbeats -> "
        f"{c['uptime_credits']} credits; {c['sessions']} sessions -> {c['session_credits']} "
        f"credits; total {c['credits']} credits = {usdt(c['amount'])} USDT"
    )
    return 0
