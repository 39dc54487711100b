"""``lucid demo``: record an N-second session of a live Xvfb desktop, seal it, export it,
and write the device's trust file (``trust.json``) beside the auditor key."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from lucid.chain_client.waiting import wait_anchored
from lucid.cli.appliance import prepare_state, running_appliance
from lucid.cli.commands import export
from lucid.cli.demo_admin import approve_as_demo_admin
from lucid.cli.desktop import start_desktop
from lucid.cli.sealing import wait_sealed
from lucid.cli.trust import device_trust, write_file
from lucid.evidence.keyfile import RecipientKey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.recorder.client import RecorderClient
from lucid.runtime.ids import new_session_id
from lucid.walletd.client import WalletdClient


async def demo(seconds: float, out: Path, state: Path | None, chain_rpc: str | None = None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    key_path = out / "auditor.key"
    auditor = RecipientKey.generate()
    auditor.save(key_path, overwrite=True)
    temp = state is None
    state_dir = Path(tempfile.mkdtemp(prefix="lucid-demo-")) if state is None else state
    try:
        # Anchor at once (one session, one confirmation) on the chain-client's own anvil, or
        # on `chain_rpc` (a dev node: contracts deployed and the device funded there).
        chain: dict[str, object] = {"batch_window_s": 0.5, "confirmations": 1}
        if chain_rpc:
            chain |= {"ledger": "local", "rpc_url": chain_rpc}
        prepare_state(
            state_dir,
            {"walletd": {"recipients": (auditor.public.hex(),)}, "chain_client": chain},
        )
        async with running_appliance(state_dir) as app:
            desktop = start_desktop()
            try:
                session = new_session_id("demo")
                await approve_as_demo_admin(app.bus, app.config.paths.state_dir, session, "demo")
                recorder = RecorderClient(app.bus)
                await recorder.start_session(session, desktop.display, "")
                await _progress(seconds)
                await recorder.stop_session(session)
            finally:
                desktop.stop()
            t0 = time.monotonic()
            info = await wait_sealed(app.bus, session)
            print(
                f"sealed {session} in {time.monotonic() - t0:.2f} s: "
                f"{info['chunks']} chunks, root {info['root']}",
                file=sys.stderr,
            )
            anchor = await wait_anchored(app.bus, session)
            if anchor.get("state") == "anchored":
                print(
                    f"anchored {session} on chain {anchor['chain_id']} in block "
                    f"{anchor['block_number']} (tx {anchor['tx']})",
                    file=sys.stderr,
                )
            else:
                print(f"exporting {session} without an anchor: {anchor['why']}", file=sys.stderr)
            bundle = out / f"{session}.lucid"
            await export(state_dir, session, bundle)
            trust = await device_trust(WalletdClient(app.bus), GatekeeperClient(app.bus))
            trust_path = out / "trust.json"
            write_file(trust_path, trust.to_bytes())
    finally:
        if temp:
            shutil.rmtree(state_dir, ignore_errors=True)
    print(bundle)
    print(key_path)
    print(trust_path)
    print(
        f"verify it against this device: lucid verify {bundle} --trust {trust_path}",
        file=sys.stderr,
    )
    return 0


async def _progress(seconds: float) -> None:
    import asyncio

    steps = max(1, int(seconds * 10))
    for _ in tqdm(
        range(steps),
        desc="recording",
        unit="",
        leave=False,
        file=sys.stderr,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
        disable=None,
    ):
        await asyncio.sleep(seconds / steps)
