"""chain-client wiring: config -> db -> queue -> ledger -> anchorer; two loops.

*intake* queues every session merkle has sealed (SessionSealed wakes it; ListSessions at
start and every ``catch_up_s`` catches what a signal missed) and never waits for the chain.
*anchor* runs `Anchorer.step` and, on a `ChainError`, records it for GetStatus and backs off
(`Backoff`); new roots do not cut a backoff short.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from web3.exceptions import Web3Exception

from lucid.chain_client import artifacts
from lucid.chain_client.anchorer import Anchorer, AnchorSettings
from lucid.chain_client.batcher import BatchPolicy
from lucid.chain_client.client import ChainClientClient
from lucid.chain_client.errors import Backoff, ChainError, RpcUnavailableError
from lucid.chain_client.fees import FeePolicy
from lucid.chain_client.ledger import Ledger, ledger_from_config, prepare_local, start_local_chain
from lucid.chain_client.localchain import LocalChainError
from lucid.chain_client.queue import MIGRATIONS, AnchorQueue
from lucid.chain_client.rpc import ChainRpc
from lucid.chain_client.service import ChainClientService
from lucid.chain_client.signer import WalletdSigner
from lucid.chain_client.status import Status
from lucid.merkle.client import MerkleClient
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime
from lucid.runtime.daemon_config import call_limits, open_state
from lucid.runtime.errors import BusError, NotFoundError
from lucid.runtime.pyecc import reset_recursion_limit
from lucid.walletd.client import WalletdClient

T = TypeVar("T")


async def build(rt: Runtime) -> ContractService:
    reset_recursion_limit()  # web3 imported py_ecc: see lucid.runtime.pyecc
    cfg = rt.config.chain_client
    ledger = ledger_from_config(cfg)
    state = await open_state(rt.config.paths, "chain_client", MIGRATIONS, rt.stack)
    queue = AnchorQueue(state.db)
    status = Status(
        ledger=ledger.name,
        rpc_url=ledger.rpc_url,
        chain_id=ledger.chain_id,
        contract=ledger.contract,
        state="starting" if ledger.enabled else "disabled",
    )
    service = ChainClientService(rt.bus, queue, status, cfg)
    if not ledger.enabled:
        rt.log.info("ledger none: nothing is anchored")
        return service
    artifacts.load(artifacts.ANCHORS)  # a missing export is a config error at start
    limits = call_limits(rt.config)
    merkle = MerkleClient(rt.bus, *limits)
    hints: set[str] = set()
    intake_wake = asyncio.Event()
    anchor_wake = asyncio.Event()

    def on_sealed(args: list[Any]) -> None:
        hints.add(str(args[0]))
        intake_wake.set()

    await merkle.on_signal("SessionSealed", on_sealed)
    rt.spawn(_intake(rt, queue, merkle, hints, intake_wake, anchor_wake), "intake")
    signer = WalletdSigner(WalletdClient(rt.bus, *limits))
    rt.spawn(_anchor(rt, ledger, queue, signer, status, service, anchor_wake), "anchor")
    return service


async def _intake(
    rt: Runtime,
    queue: AnchorQueue,
    merkle: MerkleClient,
    hints: set[str],
    wake: asyncio.Event,
    anchor_wake: asyncio.Event,
) -> None:
    cfg = rt.config.chain_client
    full = True
    while not rt.stopping.is_set():
        added = 0
        try:
            if full:
                known = await queue.known()
                for info in await merkle.list_sessions():
                    if info.get("state") == "sealed" and info["session"] not in known:
                        added += await queue.enqueue(info["session"], info["root"], time.time())
                full = False
            while hints:
                session = hints.pop()
                try:
                    info = await merkle.get_session(session)
                except NotFoundError:
                    continue
                if info.get("state") == "sealed":
                    added += await queue.enqueue(session, info["root"], time.time())
            delay = cfg.catch_up_s
        except BusError as err:
            rt.log.warning("cannot read sealed sessions from merkle: %s", err)
            full, delay = True, rt.config.chain_client.backoff_initial_s
        if added:
            rt.log.info("queued %d sealed root(s)", added)
            anchor_wake.set()
        await rt.pause(wake, delay)
        if not hints:
            full = True  # a timer pass (not a signal): re-list to catch missed signals


def _settings(ledger: Ledger, rt: Runtime) -> AnchorSettings:
    cfg = rt.config.chain_client
    return AnchorSettings(
        batch=BatchPolicy(size=cfg.batch_size, window_s=cfg.batch_window_s),
        fees=FeePolicy(
            max_fee=cfg.max_fee_per_gas,
            max_tip=cfg.max_priority_fee_per_gas,
            min_tip=cfg.min_priority_fee_per_gas,
        ),
        confirmations=cfg.confirmations,
        chain_id=ledger.chain_id,
        poll_s=cfg.poll_s,
        replace_after_blocks=cfg.replace_after_blocks,
    )


async def _connect(
    rt: Runtime, ledger: Ledger, queue: AnchorQueue, device: str, status: Status
) -> ChainRpc | None:
    """The endpoint, ready: started (local without rpc_url), contract deployed, device
    funded. None if the daemon stops first.

    Raises:
        LocalChainError: anvil is needed but missing or broken.
    """
    cfg = rt.config.chain_client
    url = ledger.rpc_url
    if ledger.local and not url:
        url = await start_local_chain(cfg, rt.config.paths.daemon_state("chain_client"), rt.stack)
        rt.log.info("started a local chain (anvil) at %s", url)
    status.rpc_url = url
    rpc = ChainRpc(url, artifacts.load(artifacts.ANCHORS), ledger.contract, timeout_s=10.0)
    rt.stack.push_async_callback(rpc.close)
    if ledger.local:
        contract = await _retrying(
            rt, status, lambda: prepare_local(rpc, queue, device, cfg.local_fund_wei, rt.log)
        )
        if contract is None:
            return None
        rpc.contract = contract
    status.contract = rpc.contract
    return rpc


async def _retrying(rt: Runtime, status: Status, make: Callable[[], Awaitable[T]]) -> T | None:
    """``await make()`` until it succeeds, backing off on chain errors; None if stopping."""
    cfg = rt.config.chain_client
    backoff = Backoff(cfg.backoff_initial_s, cfg.backoff_max_s)
    while True:
        try:
            return await make()
        except (aiohttp.ClientError, OSError, Web3Exception) as err:
            failure: ChainError = RpcUnavailableError(f"local chain setup: {err}")
        except ChainError as err:
            failure = err
        delay = backoff.next(failure)
        status.failed(failure, delay)
        rt.log.warning("%s; retrying in %g s", failure, delay)
        if await rt.sleep(delay):
            return None


async def _anchor(
    rt: Runtime,
    ledger: Ledger,
    queue: AnchorQueue,
    signer: WalletdSigner,
    status: Status,
    service: ChainClientService,
    wake: asyncio.Event,
) -> None:
    cfg = rt.config.chain_client
    me = ChainClientClient(rt.bus)
    while not await me.is_running():  # walletd signs only for the owner of our name
        if await rt.sleep(0.05):
            return
    device = await _retrying(rt, status, signer.account)
    if device is None:
        return
    status.device = device.address
    try:
        rpc = await _connect(rt, ledger, queue, device.address, status)
    except LocalChainError as err:  # nothing to anchor on until someone installs anvil
        rt.log.error("%s", err)
        status.failed(err, 0.0)
        return
    if rpc is None:
        return
    anchorer = Anchorer(
        queue, rpc, signer, _settings(ledger, rt), on_anchored=service.anchored, log=rt.log
    )
    backoff = Backoff(cfg.backoff_initial_s, cfg.backoff_max_s)
    last_error = ""
    while not rt.stopping.is_set():
        try:
            delay = await anchorer.step()
        except ChainError as err:
            if isinstance(err, RpcUnavailableError):
                anchorer.reset()
            delay = backoff.next(err)
            status.failed(err, delay)
            status.activity = anchorer.activity
            if str(err) != last_error:
                rt.log.warning("%s: %s (%s; next try in %g s)", err.name, err, err.retry, delay)
                last_error = str(err)
            await rt.sleep(delay)  # new roots do not cut a backoff short
            continue
        if last_error:
            rt.log.info("anchoring resumed")
            last_error = ""
        backoff.reset()
        status.ok()
        status.chain_id = anchorer.chain_id or status.chain_id
        status.registered = anchorer.registered
        status.activity = anchorer.activity
        await rt.pause(wake, min(delay, cfg.catch_up_s) if math.isfinite(delay) else cfg.catch_up_s)
