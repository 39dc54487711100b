"""tron-node wiring: config -> db -> node client -> payer -> service; heartbeat and payout loops."""

from __future__ import annotations

import time

from lucid.merkle.client import MerkleClient
from lucid.runtime.bus import ContractService
from lucid.runtime.config import Config, TronNodeConfig
from lucid.runtime.daemon import Runtime
from lucid.runtime.daemon_config import call_limits, open_state
from lucid.runtime.errors import BusError, ConfigError
from lucid.tron_node.credits import CreditRule
from lucid.tron_node.ledger import MIGRATIONS, Ledger, Payout
from lucid.tron_node.node import TronNode
from lucid.tron_node.payer import Payer, Terms
from lucid.tron_node.service import TronNodeService
from lucid.tron_node.staking import RESOURCES, Staking
from lucid.tron_node.txbuild import BuildError, function_abi, is_address
from lucid.walletd.client import WalletdClient


def settings(config: Config) -> tuple[CreditRule, Terms, Staking]:
    """Check the ``tron_node`` section (and the contracts walletd signs for) by concern.

    Raises:
        ConfigError: naming the key.
    """
    cfg, wallet = config.tron_node, config.walletd
    try:
        rule = CreditRule(
            epoch_s=cfg.epoch_s,
            heartbeats_per_epoch=cfg.heartbeats_per_epoch,
            credits_uptime=cfg.credits_uptime,
            credits_per_session=cfg.credits_per_session,
            max_sessions=cfg.max_sessions,
            usdt_per_credit=cfg.usdt_per_credit,
            exclude_sessions=cfg.exclude_sessions,
        )
    except ValueError as err:
        raise ConfigError(f"config tron_node: {err}") from err
    if cfg.payee and not is_address(cfg.payee):
        raise ConfigError(f"config tron_node.payee: {cfg.payee!r} is not a TRON address")
    if cfg.payout_method == "usdt":
        contract_key = "walletd.tron_usdt_contract"
        contract = wallet.tron_usdt_contract
    elif cfg.payout_method == "router":
        contract_key = "walletd.tron_payout_router"
        contract = wallet.tron_payout_router
        try:
            function_abi(wallet.tron_payout_function)
        except BuildError as err:
            raise ConfigError(f"config walletd.tron_payout_function: {err}") from err
    else:
        raise ConfigError("config tron_node.payout_method: expected usdt or router")
    if cfg.payee and not is_address(contract):
        raise ConfigError(
            f"config {contract_key}: {contract!r} is not a TRON address "
            f"(tron_node.payout_method is {cfg.payout_method})"
        )
    if cfg.stake_resource not in RESOURCES:
        raise ConfigError(f"config tron_node.stake_resource: expected one of {RESOURCES}")
    if cfg.stake_trx_sun < 0 or cfg.fee_limit_sun <= 0 or not 0 < cfg.expiration_s <= 86400:
        raise ConfigError(
            "config tron_node: stake_trx_sun >= 0, fee_limit_sun > 0, 0 < expiration_s <= 86400"
        )
    terms = Terms(
        payee=cfg.payee,
        method=cfg.payout_method,
        usdt_contract=wallet.tron_usdt_contract,
        payout_router=wallet.tron_payout_router,
        router_function=wallet.tron_payout_function,
        fee_limit_sun=cfg.fee_limit_sun,
        expiration_s=cfg.expiration_s,
        auto_pay=cfg.auto_pay,
        settle_s=cfg.settle_s,
    )
    return rule, terms, Staking(cfg.stake_trx_sun, cfg.stake_resource)


class _Account:
    """walletd's TRON address, asked once it answers."""

    def __init__(self, walletd: WalletdClient) -> None:
        self._walletd = walletd
        self._address = ""

    async def __call__(self) -> str:
        if not self._address:
            self._address = (await self._walletd.get_accounts())["tron"]
        return self._address


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config.tron_node
    rule, terms, stake = settings(rt.config)
    state = await open_state(rt.config.paths, "tron_node", MIGRATIONS, rt.stack)
    node = None
    if cfg.endpoint:
        node = TronNode(cfg.endpoint, timeout_s=cfg.request_timeout_s, api_key=cfg.api_key)
        rt.stack.push_async_callback(node.close)
    limits = call_limits(rt.config)
    walletd = WalletdClient(rt.bus, *limits)
    services: list[TronNodeService] = []

    def changed(p: Payout) -> None:
        rt.log.info("payout %s/%d: %s %s", p.payee, p.epoch, p.state, p.message)
        for service in services:
            service.payout_changed(p)

    payer = Payer(
        Ledger(state.db),
        node,
        rule,
        terms,
        sign=walletd.sign_tron_transaction,
        sessions=MerkleClient(rt.bus, *limits).list_sessions,
        account=_Account(walletd),
        on_change=changed,
    )
    services.append(TronNodeService(rt.bus, payer, stake))
    await payer.heartbeat()
    if not payer.enabled:
        rt.log.warning(
            "payouts off: set tron_node.endpoint and tron_node.payee; uptime is recorded"
        )
    rt.spawn(_heartbeats(rt, payer), "heartbeat")
    rt.spawn(_payouts(rt, payer, cfg), "payouts")
    return services[0]


async def _heartbeats(rt: Runtime, payer: Payer) -> None:
    interval = payer.rule.epoch_s / payer.rule.heartbeats_per_epoch
    while True:
        slot = await payer.heartbeat()
        # Wake just after the next slot starts, so drift never skips a slot.
        if await rt.sleep(max(0.0, (slot + 1) * interval - time.time()) + interval / 20):
            return


async def _payouts(rt: Runtime, payer: Payer, cfg: TronNodeConfig) -> None:
    """Plan completed epochs and move unfinished payouts on; back off while they wait."""
    delay, last = cfg.poll_s, ""
    while not rt.stopping.is_set():
        errors: list[BusError] = []
        try:
            await payer.auto_plan()
        except BusError as err:
            errors.append(err)
        errors += await payer.resume()
        if errors:
            delay = min(cfg.retry_max_s, max(cfg.poll_s, delay * 2))
            text = "; ".join(f"{e.name}: {e.message}" for e in errors)
            if text != last:
                rt.log.warning("payouts waiting (retry in %.0f s): %s", delay, text)
            last = text
        else:
            delay, last = cfg.poll_s, ""
        await rt.sleep(delay)
