"""tron-node's configuration: defaults are payouts off; mistakes name the key."""

from __future__ import annotations

import inspect
import re

import pytest

from lucid.runtime.config import load_config
from lucid.runtime.contracts import TRON_NODE
from lucid.runtime.errors import ConfigError
from lucid.tron_node.client import TronNodeClient
from lucid.tron_node.daemon import settings
from lucid.tron_node.service import TronNodeService

PAYEE = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def test_defaults_mean_payouts_off_and_a_daily_rule() -> None:
    cfg = load_config(environ={})
    rule, terms, stake = settings(cfg)
    assert cfg.tron_node.endpoint == "" and terms.payee == ""
    assert (rule.epoch_s, rule.heartbeats_per_epoch, rule.usdt_per_credit) == (86400, 1440, 10_000)
    assert terms.contract == cfg.walletd.tron_usdt_contract  # what walletd signs for
    assert (stake.stake_trx_sun, stake.resource) == (0, "ENERGY")


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"tron_node.payee": "not-an-address"}, "tron_node.payee"),
        ({"tron_node.payout_method": "paypal"}, "tron_node.payout_method"),
        (
            {"tron_node.payee": PAYEE, "tron_node.payout_method": "router"},
            "walletd.tron_payout_router",
        ),
        (
            {"tron_node.payout_method": "router", "walletd.tron_payout_function": "pay(uint256)"},
            "walletd.tron_payout_function",
        ),
        ({"tron_node.stake_resource": "TRON_POWER"}, "tron_node.stake_resource"),
        ({"tron_node.heartbeats_per_epoch": "0"}, "tron_node"),
        ({"tron_node.expiration_s": "0"}, "tron_node"),
    ],
)
def test_mistakes_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        settings(load_config(environ=_env(env)))


def _env(env: dict[str, str]) -> dict[str, str]:
    out = {}
    for dotted, value in env.items():
        section, key = dotted.split(".")
        out[f"LUCID__{section.upper()}__{key.upper()}"] = value
    return out


def test_service_and_client_follow_the_xml() -> None:
    for name, method in TRON_NODE.methods.items():
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        params = list(inspect.signature(getattr(TronNodeService, snake)).parameters)[2:]
        assert tuple(params) == method.in_args, snake
        assert inspect.iscoroutinefunction(getattr(TronNodeClient, snake)), snake
    assert set(TRON_NODE.signals) == {"PayoutChanged"}
