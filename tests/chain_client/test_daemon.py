"""chain-client as a real process on a private bus, with the real walletd and a real anvil.

merkle is `FakeMerkle` on the same bus. Blocks advance when a test mines them; waits are
for states, never for durations.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast.aio import MessageBus

from lucid.chain_client.client import AnchorInfo, ChainClientClient
from lucid.chain_client.deploy import fund
from lucid.chain_client.localchain import LocalChain
from lucid.evidence.anchor import AnchorProof, RpcError, http_rpc, verify_online
from lucid.runtime.errors import NotFoundError
from lucid.runtime.supervisor import DaemonSet
from lucid.walletd.client import WalletdClient
from tests.chain_client.chainkit import DevChain, RpcProxy
from tests.chain_client.fakes import FakeMerkle, fake_merkle
from tests.conftest import LucidEnv, wait_for

ETH = 10**18


def root_of(session: str) -> bytes:
    return session.encode().ljust(32, b".")[:32]


@pytest.fixture
async def merkle(bus_address: str) -> AsyncIterator[FakeMerkle]:
    async with fake_merkle(bus_address) as service:
        yield service


@pytest.fixture
def chain_env(lucid: LucidEnv, anvil: LocalChain, contract: str) -> LucidEnv:
    """chain-client on the test anvil as a named network: nothing deployed or funded for it."""
    for key, value in {
        "ledger": "anvil-test",
        "rpc_url": anvil.url,
        "chain_id": "31337",
        "contract": contract,
        "confirmations": "1",
        "batch_size": "3",
        "batch_window_s": "3600",
        "poll_s": "0.05",
        "catch_up_s": "1",
        "backoff_initial_s": "0.05",
        "backoff_max_s": "0.5",
    }.items():
        lucid.set("chain_client", key, value)
    return lucid


async def start(
    env: LucidEnv, bus: MessageBus, chain: DevChain, *, funded: bool = True
) -> tuple[DaemonSet, DaemonSet]:
    """walletd, then (its EVM account funded from anvil's dev account) chain-client."""
    wallet = await env.start("walletd")
    accounts = await WalletdClient(bus).get_accounts()
    if funded:
        await fund(chain.w3, accounts["evm"], ETH)
    return wallet, await env.start("chain_client")


def status_is(client: ChainClientClient, **want: str) -> Any:
    async def check() -> bool:
        status = await client.get_status()
        return all(status.get(k) == v for k, v in want.items())

    return check


async def test_anchors_sealed_sessions_and_serves_proofs(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain, contract: str
) -> None:
    merkle.add("early-1", root_of("early-1"))  # sealed before chain-client started
    merkle.add("early-2", root_of("early-2"))
    await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    anchored: list[list[Any]] = []
    await client.on_signal("Anchored", anchored.append)
    await wait_for(status_is(client, queued="2", registered="true"), 30, "catch-up")
    with pytest.raises(NotFoundError):
        await client.get_proof("early-1")
    queued = await client.get_session("early-1")
    assert queued["state"] == "queued"
    assert set(queued) == AnchorInfo.__required_keys__
    merkle.seal("late", root_of("late"))  # the signal path completes the batch of 3
    await wait_for(lambda: anchored, 30, "the Anchored signal")
    ((count, tx, block),) = anchored
    assert count == 3
    identity = bytes.fromhex((await WalletdClient(bus).get_identity())["ed25519"])
    for session in ("early-1", "early-2", "late"):
        proof = AnchorProof.from_bytes((await client.get_proof(session)).encode())
        assert proof.session_root == root_of(session)
        assert (proof.tx_hash, proof.block_number, proof.contract) == (tx, block, contract)
        verify_online(proof, http_rpc(dev_chain.url), identity_key=identity)
        info = await client.get_session(session)
        assert info["state"] == "anchored" and info["tx"] == tx
        assert set(info) == AnchorInfo.__required_keys__ | AnchorInfo.__optional_keys__
    status = await client.get_status()
    accounts = await WalletdClient(bus).get_accounts()
    assert status["ledger"] == "anvil-test" and status["chain_id"] == "31337"
    assert status["device"] == accounts["evm"].lower()
    assert (status["anchored"], status["queued"], status["error"]) == ("3", "0", "")
    assert int(status["gas_per_session"]) > 0
    assert len(await dev_chain.anchored_logs(contract)) == 1
    with pytest.raises(NotFoundError):
        await client.get_proof("never-sealed")


async def test_kill9_between_sign_and_confirm_does_not_anchor_twice(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain, contract: str
) -> None:
    chain_env.set("chain_client", "confirmations", "3")
    for s in ("k1", "k2", "k3"):
        merkle.add(s, root_of(s))
    _, ds = await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    await wait_for(lambda: dev_chain.anchored_logs(contract), 30, "the anchor tx in a block")
    batched = await client.get_session("k1")
    assert batched["state"] == "batched"
    assert set(batched) - AnchorInfo.__required_keys__ == {"batch_root", "batch_size", "leaf_index"}
    await ds.kill("chain_client", signal.SIGKILL)
    merkle.seal("k4", root_of("k4"))  # sealed while chain-client is down: caught up on start
    await ds.start("chain_client")
    await dev_chain.mine(2)
    await wait_for(status_is(client, anchored="3", queued="1"), 30, "the confirmation")
    assert len(await dev_chain.anchored_logs(contract)) == 1
    assert (await client.get_session("k4"))["state"] == "queued"


async def test_reorg_that_drops_the_anchor_anchors_again(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain, contract: str
) -> None:
    chain_env.set("chain_client", "confirmations", "3")
    for s in ("o1", "o2", "o3"):
        merkle.add(s, root_of(s))
    await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    await wait_for(lambda: dev_chain.anchored_logs(contract), 30, "the anchor tx in a block")
    (first,) = await dev_chain.anchored_logs(contract)
    depth = await dev_chain.block_number() - int(first["blockNumber"], 16) + 1
    await dev_chain.reorg(depth)
    assert await dev_chain.anchored_logs(contract) == []
    await wait_for(lambda: dev_chain.anchored_logs(contract), 30, "the anchor back in a block")
    await dev_chain.mine(2)
    await wait_for(status_is(client, anchored="3"), 30, "the confirmation")
    proof = AnchorProof.from_bytes((await client.get_proof("o2")).encode())
    assert proof.block_hash != first["blockHash"]
    verify_online(proof, http_rpc(dev_chain.url))


async def test_rpc_down_backs_off_and_catches_up(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain, anvil: LocalChain
) -> None:
    proxy = RpcProxy(anvil.port)
    await proxy.up()
    await proxy.down()  # the endpoint is down from the start
    chain_env.set("chain_client", "rpc_url", proxy.url)
    await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    for s in ("d1", "d2", "d3", "d4"):
        merkle.seal(s, root_of(s))
    await wait_for(
        status_is(client, error="io.lucid.Error.RpcUnavailable", state="backoff", queued="4"),
        30,
        "RpcUnavailable with everything queued",
    )
    await proxy.up()
    await wait_for(status_is(client, anchored="3", queued="1", error=""), 30, "catch-up")
    await proxy.down()


async def test_wrong_chain_id_is_a_named_error(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain
) -> None:
    chain_env.set("chain_client", "chain_id", "10")
    for s in ("c1", "c2", "c3"):
        merkle.add(s, root_of(s))
    await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    # the chain check and merkle's catch-up run side by side: wait for both
    await wait_for(
        status_is(client, error="io.lucid.Error.WrongChain", queued="3"), 30, "WrongChain"
    )
    status = await client.get_status()
    assert status["anchored"] == "0"
    assert "31337" in status["error_message"] and status["retry"]


async def test_walletd_limit_is_a_named_error_and_nothing_is_lost(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain
) -> None:
    chain_env.set("walletd", "evm_limit_tx_wei", "1")
    for s in ("m1", "m2", "m3"):
        merkle.add(s, root_of(s))
    wallet, _ = await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    await wait_for(
        status_is(client, error="io.lucid.Error.LimitExceeded", queued="3"), 30, "refusal"
    )
    assert (await client.get_status())["anchored"] == "0"
    chain_env.overrides.pop("LUCID__WALLETD__EVM_LIMIT_TX_WEI")
    wallet.env = chain_env.env()  # walletd restarts with its default limits
    await wallet.stop("walletd")
    await wallet.start("walletd")
    await wait_for(status_is(client, anchored="3", error=""), 60, "anchoring after the fix")


async def test_unfunded_device_is_insufficient_funds(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain
) -> None:
    for s in ("u1", "u2", "u3"):
        merkle.add(s, root_of(s))
    await start(chain_env, bus, dev_chain, funded=False)
    client = ChainClientClient(bus)
    await wait_for(status_is(client, error="io.lucid.Error.InsufficientFunds"), 30, "no funds")
    await fund(dev_chain.w3, (await client.get_status())["device"], ETH)
    await wait_for(status_is(client, anchored="3", error=""), 30, "anchoring once funded")


async def test_ledger_none_anchors_nothing(
    chain_env: LucidEnv, bus: MessageBus, merkle: FakeMerkle, dev_chain: DevChain
) -> None:
    chain_env.set("chain_client", "ledger", "none")
    merkle.add("n1", root_of("n1"))
    await start(chain_env, bus, dev_chain)
    client = ChainClientClient(bus)
    status = await client.get_status()
    assert (status["ledger"], status["state"], status["queued"]) == ("none", "disabled", "0")
    with pytest.raises(NotFoundError):
        await client.get_session("n1")


async def test_local_ledger_starts_its_own_chain(
    lucid: LucidEnv, bus: MessageBus, merkle: FakeMerkle, tmp_path: Path
) -> None:
    """Ledger "local" with no rpc_url: anvil started by the daemon, contract deployed and
    the device funded from the chain's dev account (what `lucid up` gets by default)."""
    for key, value in {
        "ledger": "local",
        "confirmations": "2",
        "batch_size": "2",
        "local_block_time_s": "1",
        "poll_s": "0.1",
        "backoff_initial_s": "0.1",
    }.items():
        lucid.set("chain_client", key, value)
    merkle.add("l1", root_of("l1"))
    merkle.add("l2", root_of("l2"))
    ds = await lucid.start("walletd", "chain_client")
    client = ChainClientClient(bus)
    await wait_for(status_is(client, anchored="2"), 90, "anchoring on the local chain")
    status = await client.get_status()
    assert status["rpc_url"].startswith("http://127.0.0.1:") and status["contract"]
    proof = AnchorProof.from_bytes((await client.get_proof("l1")).encode())
    verify_online(proof, http_rpc(status["rpc_url"]))
    assert await ds.stop("chain_client") == 0
    with pytest.raises(RpcError):  # its anvil stopped with it
        http_rpc(status["rpc_url"], timeout_s=2)("eth_chainId", [])


async def test_local_ledger_without_anvil_is_a_named_error(
    lucid: LucidEnv, bus: MessageBus, merkle: FakeMerkle, tmp_path: Path
) -> None:
    lucid.set("chain_client", "ledger", "local")
    lucid.overrides["LUCID_ANVIL"] = str(tmp_path / "no-anvil-here")
    merkle.add("z1", root_of("z1"))
    await lucid.start("walletd", "chain_client")
    client = ChainClientClient(bus)
    await wait_for(status_is(client, error="io.lucid.Error.NoLocalChain"), 30, "no anvil")
    status = await client.get_status()
    assert status["queued"] == "1" and "npm ci" in status["retry"]
