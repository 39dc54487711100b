"""Which chain to anchor on (``[chain_client]`` config), and getting it ready.

``ledger = "none"``: nothing is anchored. ``"local"``: a development chain; with no
``rpc_url`` chain-client starts anvil itself (`localchain`, state kept in its state dir,
a block every ``local_block_time_s``), deploys LucidAnchors when no ``contract`` is
configured (remembered per chain), and tops the device's balance up from the chain's dev
account. Any other name is a real network: ``rpc_url``, ``chain_id`` and ``contract`` are
required and nothing is deployed or funded. This module does not import the bus library.
"""

from __future__ import annotations

import logging
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from lucid.chain_client import artifacts, deploy, localchain
from lucid.chain_client.queue import AnchorQueue
from lucid.chain_client.rpc import ChainRpc
from lucid.runtime.config import ChainClientConfig
from lucid.runtime.errors import ConfigError

NONE = "none"
LOCAL = "local"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Ledger:
    name: str
    rpc_url: str
    chain_id: int
    contract: str

    @property
    def enabled(self) -> bool:
        return self.name != NONE

    @property
    def local(self) -> bool:
        return self.name == LOCAL


def ledger_from_config(cfg: ChainClientConfig) -> Ledger:
    """Check the ``[chain_client]`` section.

    Raises:
        ConfigError: naming the key that is missing or wrong.
    """
    name = cfg.ledger.strip()
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"config chain_client.ledger: {cfg.ledger!r} is not none, local or a network name"
        )
    if cfg.contract and not _ADDRESS.fullmatch(cfg.contract):
        raise ConfigError(f"config chain_client.contract: {cfg.contract!r} is not a 0x address")
    if cfg.chain_id < 0:
        raise ConfigError("config chain_client.chain_id: must be positive")
    if name not in (NONE, LOCAL):
        for key, value in (
            ("rpc_url", cfg.rpc_url),
            ("chain_id", cfg.chain_id),
            ("contract", cfg.contract),
        ):
            if not value:
                raise ConfigError(f"config chain_client.{key}: required for ledger {name!r}")
    if not 1 <= cfg.batch_size <= 2**32 - 1:
        raise ConfigError("config chain_client.batch_size: must be in [1, 2^32-1]")
    if cfg.confirmations < 1:
        raise ConfigError("config chain_client.confirmations: must be at least 1")
    if cfg.max_fee_per_gas < cfg.min_priority_fee_per_gas:
        raise ConfigError("config chain_client.max_fee_per_gas: below min_priority_fee_per_gas")
    return Ledger(
        name=name, rpc_url=cfg.rpc_url, chain_id=cfg.chain_id, contract=cfg.contract.lower()
    )


async def start_local_chain(cfg: ChainClientConfig, state_dir: Path, stack: AsyncExitStack) -> str:
    """Start the daemon's own anvil (ledger "local" without rpc_url); returns its URL.

    Raises:
        LocalChainError: anvil is missing or did not start.
    """
    chain = await localchain.start_anvil(
        chain_id=cfg.chain_id or localchain.DEV_CHAIN_ID,
        block_time_s=cfg.local_block_time_s or None,
        state_file=state_dir / "anvil-state.json",
        log_file=state_dir / "anvil.log",
    )
    stack.push_async_callback(chain.stop)
    return chain.url


async def prepare_local(
    rpc: ChainRpc, queue: AnchorQueue, device: str, fund_wei: int, log: logging.Logger
) -> str:
    """On a development chain: make sure LucidAnchors is there (deploying it if no address
    is configured or the remembered one has no code) and the device has funds.

    Returns:
        The contract address.
    Raises:
        ChainError / RpcUnavailableError: the chain refused or is unreachable.
    """
    chain_id = await rpc.chain_id()
    genesis = await rpc.block_hash(0)
    key = f"deployed:{chain_id}:{genesis}"
    contract = rpc.contract or (await queue.get(key) or "")
    if not contract or not await rpc.code(contract):
        contract = (await deploy.deploy_contracts(rpc.w3))[artifacts.ANCHORS]
        await queue.put(key, contract)
        log.info("deployed LucidAnchors at %s on local chain %d", contract, chain_id)
    sent = await deploy.fund(rpc.w3, device, fund_wei)
    if sent:
        log.info("funded %s with %d wei from the dev account", device, sent)
    return contract
