"""``lucid keys auditor new|show``: an auditor's recipient key, made where the auditor keeps it.

``new`` writes a key file (mode 0600, never overwritten) and prints its public key: the owner
pastes that on the device's Keys page (or lists it in ``walletd.recipients``), and sessions
recorded from then on open with ``lucid play BUNDLE --key FILE``. ``show`` prints the public
key of an existing file. The secret key never leaves the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lucid.evidence.keyfile import RecipientKey


def add_keys(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="make an auditor key (to read recordings elsewhere)")
    kinds = keys.add_subparsers(dest="kind", required=True, metavar="KIND")
    auditor = kinds.add_parser("auditor", help="an auditor's recipient key file")
    actions = auditor.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="write a new key file; print its public key")
    new.add_argument("-o", "--output", type=Path, required=True, help="key file to create")
    show = actions.add_parser("show", help="print the public key of a key file")
    show.add_argument("file", type=Path)


def run_keys(args: argparse.Namespace) -> int:
    if args.action == "new":
        key = RecipientKey.generate()
        key.save(args.output)  # refuses to overwrite an existing key
        print(key.public.hex())
        print(
            f"lucid: wrote {args.output} (keep it secret). Add the public key above on the "
            "device's Keys page (Add an auditor recipient); sessions recorded after that open "
            f"with: lucid play BUNDLE --key {args.output} -o video.mp4",
            file=sys.stderr,
        )
        return 0
    print(RecipientKey.load(args.file).public.hex())
    return 0
