"""``lucid trust export``: the device's trust file, for auditors to verify bundles against.

Run on the device (or against a ``lucid up --state DIR``): asks walletd for the device's
identity and gatekeeper for the approvers' passkeys (public keys only) and writes a
``lucid.trust`` file (docs/evidence.md §16). An auditor then runs
``lucid verify BUNDLE --trust TRUST.json``. The file holds no secret; what makes it worth
trusting is how the auditor got it, so the command prints the device fingerprint to
compare with the one on the device's console and web page.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lucid.evidence.timestamps import utc_timestamp
from lucid.evidence.trust import TrustFile

if TYPE_CHECKING:  # the bus clients load only for `export`, not for every `lucid` command
    from lucid.gatekeeper.client import GatekeeperClient
    from lucid.walletd.client import WalletdClient

APPROVER_ROLES = frozenset({"owner", "admin"})
"""Roles whose passkeys a trust file lists (gatekeeper's ``APPROVER_ROLES``; a test holds
them equal)."""


def add_trust(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trust = sub.add_parser("trust", help="export the device's trust file (for `lucid verify`)")
    actions = trust.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the device key and approvers' passkeys")
    export.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    export.add_argument("--state", type=Path, help="state dir of a `lucid up` (else $LUCID_BUS)")


async def device_trust(walletd: WalletdClient, gatekeeper: GatekeeperClient) -> TrustFile:
    """The trust file of the device these clients talk to (also the web page's)."""
    identity = await walletd.get_identity()
    accounts = json.loads(await gatekeeper.list_accounts())
    now = utc_timestamp(datetime.now(UTC))
    return TrustFile.from_device(identity, accounts, now, APPROVER_ROLES)


async def export(state: Path | None, output: Path) -> int:
    from lucid.cli.connect import connect_cli
    from lucid.gatekeeper.client import GatekeeperClient
    from lucid.walletd.client import WalletdClient

    bus = await connect_cli(state)
    try:
        trust = await device_trust(WalletdClient(bus), GatekeeperClient(bus))
    finally:
        bus.disconnect()
    write_file(output, trust.to_bytes())
    passkeys = sum(len(a.passkeys) for a in trust.approvers)
    print(
        f"wrote {output}: device {trust.name} ({trust.fingerprint}), "
        f"{len(trust.approvers)} approver(s) with {passkeys} passkey(s). Compare the "
        "fingerprint with the device's web page before you rely on it."
    )
    return 0


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (``.part`` then rename)."""
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
