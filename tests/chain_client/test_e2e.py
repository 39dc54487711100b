"""End to end: a recorded session is sealed by merkle, anchored by chain-client on anvil,
exported with its anchor proof, and `lucid verify --rpc` accepts it and rejects a tampered
proof — real daemons, real bus, real Xvfb desktop, real chain."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.chain_client.client import ChainClientClient
from lucid.chain_client.deploy import fund
from lucid.chain_client.localchain import LocalChain
from lucid.cli.desktop import start_desktop
from lucid.encryptor.client import EncryptorClient
from lucid.evidence.anchor import AnchorProof
from lucid.evidence.canonical import canonical_json
from lucid.evidence.verify import verify_bundle
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient
from lucid.walletd.client import WalletdClient
from tests.chain_client.chainkit import DevChain
from tests.conftest import LucidEnv, wait_for
from tests.evidence.helpers import read_members, write_members

LUCID = [sys.executable, "-m", "lucid.cli"]
PIPELINE = ("walletd", "recorder", "chunker", "encryptor", "merkle", "chain_client")


def _verify(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LUCID, "verify", "-q", str(bundle), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_recorded_session_is_anchored_exported_and_verified(
    lucid: LucidEnv,
    bus: MessageBus,
    anvil: LocalChain,
    dev_chain: DevChain,
    contract: str,
    tmp_path: Path,
) -> None:
    lucid.set("chunker", "chunk_bytes", str(64 * 1024))
    lucid.set("chunker", "flush_seconds", "1.0")
    lucid.set("recorder", "segment_seconds", "0.5")
    for key, value in {
        "ledger": "anvil-test",
        "rpc_url": anvil.url,
        "chain_id": "31337",
        "contract": contract,
        "confirmations": "2",
        "batch_window_s": "0.2",
        "poll_s": "0.1",
    }.items():
        lucid.set("chain_client", key, value)
    await lucid.start("walletd")
    await fund(dev_chain.w3, (await WalletdClient(bus).get_accounts())["evm"], 10**18)
    await lucid.start(*PIPELINE[1:])
    desktop = start_desktop(640, 480)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("e2e", desktop.display, "")

        async def two_chunks() -> bool:
            return len(await EncryptorClient(bus).list_chunks("e2e")) >= 2

        await wait_for(two_chunks, 90, "two sealed chunks")
        await recorder.stop_session("e2e")
    finally:
        desktop.stop()
    merkle = MerkleClient(bus)

    async def sealed() -> bool:
        return any(s["session"] == "e2e" for s in await merkle.list_sessions())

    await wait_for(sealed, 90, "the session to be sealed")
    chain = ChainClientClient(bus)

    async def mined() -> bool:
        return (await chain.get_session("e2e"))["state"] in ("batched", "anchored")

    await wait_for(mined, 60, "the anchor transaction")
    await dev_chain.mine(1)  # the second confirmation

    async def anchored() -> bool:
        return (await chain.get_session("e2e"))["state"] == "anchored"

    await wait_for(anchored, 60, "the confirmed anchor")
    bundle = tmp_path / "e2e.lucid"
    with bundle.open("wb") as fh:
        await merkle.export_bundle("e2e", fh.fileno())
    report = verify_bundle(bundle)
    assert report.anchor is not None
    assert report.anchor.session_root == report.tree_root
    ok = _verify(bundle, "--rpc", anvil.url)
    assert ok.returncode == 0, ok.stderr
    assert "(checked, 2 confirmations)" in ok.stdout

    # A proof naming another block hash passes offline, and the chain refutes it.
    members = read_members(bundle)
    doc = AnchorProof.from_bytes(dict(members)["anchor.json"]).to_dict()
    real_hash = doc["block_hash"]
    doc["block_hash"] = "0x" + "ab" * 32
    forged = tmp_path / "forged.lucid"
    write_members(
        forged, [(n, canonical_json(doc) if n == "anchor.json" else d) for n, d in members]
    )
    assert verify_bundle(forged).anchor is not None
    bad = _verify(forged, "--rpc", anvil.url)
    assert bad.returncode == 1
    assert f"anchor.block_hash: chain has {real_hash}, proof says 0x{'ab' * 32}" in bad.stderr
    offline = _verify(forged)  # offline, the forgery is internally consistent, and says so
    assert offline.returncode == 0 and "(not checked: no --rpc)" in offline.stdout
    dead = _verify(forged, "--rpc", "http://127.0.0.1:9")  # nothing listens: not a verdict
    assert dead.returncode == 3 and "anchor not checked" in dead.stderr
