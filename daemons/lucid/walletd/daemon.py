"""walletd wiring: config -> key backends -> db -> service."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lucid.runtime.bus import ContractService
from lucid.runtime.config import WalletdConfig
from lucid.runtime.daemon import Runtime
from lucid.runtime.db import open_db
from lucid.runtime.errors import ConfigError
from lucid.walletd.chainkeys import EVM_KEY_FILE, TRON_KEY_FILE, FileSecp256k1Signer
from lucid.walletd.datakeys import DataKeys
from lucid.walletd.keys import FileKeyBackend
from lucid.walletd.limits import Limit, SpendLedger
from lucid.walletd.schema import MIGRATIONS
from lucid.walletd.service import WalletdService
from lucid.walletd.tronraw import decode_address, is_payout_function

if TYPE_CHECKING:
    from lucid.walletd.chain import ChainAccounts


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config.walletd
    state = rt.config.paths.daemon_state("walletd")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        recipients = [bytes.fromhex(r) for r in cfg.recipients]
    except ValueError as err:
        raise ConfigError(f"config walletd.recipients: not hex ({err})") from err
    if any(len(r) != 32 for r in recipients):
        raise ConfigError("config walletd.recipients: each must be a 32-byte X25519 key in hex")
    limits = chain_limits(cfg)
    usdt, router = tron_contracts(cfg)
    backend = FileKeyBackend(state)
    # Created on first start, like the identity key; used only on the first chain call.
    evm_signer = FileSecp256k1Signer(state, EVM_KEY_FILE)
    tron_signer = FileSecp256k1Signer(state, TRON_KEY_FILE)
    db = await open_db(state / "walletd.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    rt.log.info("identity %s (backend %s)", backend.public_keys().fingerprint, backend.name)
    ledger = SpendLedger(db, limits)

    def make_chain() -> ChainAccounts:
        from lucid.walletd.chain import ChainAccounts
        from lucid.walletd.tron import TronPolicy

        return ChainAccounts(
            evm_signer,
            tron_signer,
            backend,
            ledger,
            lambda own: TronPolicy(own, usdt, router, cfg.tron_payout_function),
        )

    name = rt.config.rdp_gate.device_name or socket.gethostname()
    return WalletdService(
        rt.bus, backend, DataKeys(db, backend, recipients), lazy(make_chain), name
    )


def lazy(make: Callable[[], ChainAccounts]) -> Callable[[], Awaitable[ChainAccounts]]:
    """``make()`` once, in a worker thread (its imports take seconds; the loop keeps serving)."""
    lock = asyncio.Lock()
    made: list[ChainAccounts] = []

    async def get() -> ChainAccounts:
        async with lock:
            if not made:
                made.append(await asyncio.to_thread(make))
            return made[0]

    return get


def chain_limits(cfg: WalletdConfig) -> dict[str, Limit]:
    """The spending limits per asset, from config.

    Raises:
        ConfigError: a negative limit.
    """
    for key in ("evm_limit_tx_wei", "evm_limit_day_wei", "tron_limit_tx", "tron_limit_day"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"config walletd.{key}: must not be negative")
    evm = Limit(
        cfg.evm_limit_tx_wei,
        cfg.evm_limit_day_wei,
        "walletd.evm_limit_tx_wei",
        "walletd.evm_limit_day_wei",
    )
    tron = Limit(
        cfg.tron_limit_tx, cfg.tron_limit_day, "walletd.tron_limit_tx", "walletd.tron_limit_day"
    )
    return {"wei": evm, "trx": tron, "usdt": tron}


def tron_contracts(cfg: WalletdConfig) -> tuple[bytes | None, bytes | None]:
    """(USDT contract, payout router) as 21-byte addresses; None where not configured.

    Raises:
        ConfigError: not a TRON address, the same contract twice, or a payout function
            that is not ``name(address,uint256)``.
    """
    out: list[bytes | None] = []
    for key in ("tron_usdt_contract", "tron_payout_router"):
        text = getattr(cfg, key)
        try:
            out.append(decode_address(text) if text else None)
        except ValueError as err:
            raise ConfigError(f"config walletd.{key}: {err}") from err
    usdt, router = out
    if usdt is not None and usdt == router:
        raise ConfigError("config walletd.tron_payout_router: the same contract as USDT")
    if not is_payout_function(cfg.tron_payout_function):
        raise ConfigError(
            f"config walletd.tron_payout_function: {cfg.tron_payout_function!r} is not "
            "name(address,uint256)"
        )
    return usdt, router
