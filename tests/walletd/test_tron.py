from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from tronpy.keys import PrivateKey  # type: ignore[import-untyped]  # tronpy ships no hints
from tronpy.proto.transaction import (  # type: ignore[import-untyped]  # no hints
    _raw_data_to_protobuf,
)

from lucid.runtime.config import WalletdConfig
from lucid.runtime.errors import ConfigError, InvalidArgumentError
from lucid.walletd.chainkeys import TRON_KEY_FILE, FileSecp256k1Signer
from lucid.walletd.daemon import chain_limits, tron_contracts
from lucid.walletd.tron import MAX_LIFETIME_MS, TronPolicy, check_payout_function, tron_address
from lucid.walletd.tronraw import decode_address, decode_raw
from tests.walletd.tronkit import FEE_LIMIT, contract_call, new_address, raw_bytes, trx_transfer

OWNER, USDT, ROUTER, PAYEE = (new_address() for _ in range(4))
POLICY = TronPolicy(decode_address(OWNER), decode_address(USDT), decode_address(ROUTER))


def _now() -> int:
    return int(time.time() * 1000)


def test_spends_of_the_three_kinds() -> None:
    trx = decode_raw(raw_bytes(trx_transfer(OWNER, PAYEE, 3_000_000)))
    assert POLICY.spends(trx, _now()) == {"trx": 3_000_000}
    usdt = decode_raw(raw_bytes(contract_call(OWNER, USDT, PAYEE, 7_000_000)))
    assert POLICY.spends(usdt, _now()) == {"usdt": 7_000_000, "trx": FEE_LIMIT}
    router = decode_raw(raw_bytes(contract_call(OWNER, ROUTER, PAYEE, 9, function="payout")))
    assert POLICY.spends(router, _now()) == {"usdt": 9, "trx": FEE_LIMIT}


@pytest.mark.parametrize(
    ("tx", "needle"),
    [
        (lambda: contract_call(PAYEE, USDT, OWNER, 1), "is not walletd's TRON account"),
        (lambda: trx_transfer(PAYEE, OWNER, 1), "is not walletd's TRON account"),
        (lambda: contract_call(OWNER, new_address(), PAYEE, 1), "neither"),
        (lambda: contract_call(OWNER, USDT, PAYEE, 1, function="approve"), "only transfer"),
        (lambda: contract_call(OWNER, ROUTER, PAYEE, 1), r"only payout\(address,uint256\)"),
        (lambda: contract_call(OWNER, USDT, PAYEE, 1, function="payout"), "only transfer"),
        (lambda: contract_call(OWNER, USDT, PAYEE, 0), "must be positive"),
        (lambda: trx_transfer(OWNER, PAYEE, 1, lifetime_ms=-1), "expired"),
        (lambda: trx_transfer(OWNER, PAYEE, 1, lifetime_ms=MAX_LIFETIME_MS + 60_000), "a day"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_refusals(tx: object, needle: str) -> None:
    decoded = decode_raw(raw_bytes(tx()))  # type: ignore[operator]  # a lambda
    with pytest.raises(InvalidArgumentError, match=needle):
        POLICY.spends(decoded, _now())


def test_call_data_must_be_exactly_two_words() -> None:
    tx = contract_call(OWNER, USDT, PAYEE, 5)
    value = tx._raw_data["contract"][0]["parameter"]["value"]
    value["data"] += "00" * 32  # a third word: tronpy encodes it, walletd refuses it
    raw = bytes(_raw_data_to_protobuf(tx._raw_data).SerializeToString())
    with pytest.raises(InvalidArgumentError, match="only transfer"):
        POLICY.spends(decode_raw(raw), _now())


def test_no_router_configured_means_no_router_calls() -> None:
    policy = TronPolicy(decode_address(OWNER), decode_address(USDT), None)
    call = decode_raw(raw_bytes(contract_call(OWNER, ROUTER, PAYEE, 9, function="payout")))
    with pytest.raises(InvalidArgumentError, match="neither"):
        policy.spends(call, _now())


def test_tron_address_is_tronpys(tmp_path: Path) -> None:
    signer = FileSecp256k1Signer(tmp_path, TRON_KEY_FILE)
    secret = (tmp_path / TRON_KEY_FILE).read_bytes()
    expected = PrivateKey(secret).public_key.to_base58check_address()
    assert tron_address(signer.public_key()) == expected


def test_payout_function_shape() -> None:
    for good in ("payout(address,uint256)", "pay_1(address,uint256)"):
        assert check_payout_function(good) == keccak(good.encode())[:4]
    for bad in ("payout(address)", "payout(address, uint256)", "payout(uint256,address)", "x"):
        with pytest.raises(ValueError):
            check_payout_function(bad)


def test_config_checks() -> None:
    assert chain_limits(WalletdConfig())["usdt"].per_day == 1_000_000_000
    with pytest.raises(ConfigError, match="evm_limit_day_wei"):
        chain_limits(WalletdConfig(evm_limit_day_wei=-1))
    usdt, router = tron_contracts(WalletdConfig())
    assert usdt == decode_address("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t") and router is None
    assert tron_contracts(WalletdConfig(tron_usdt_contract="")) == (None, None)
    with pytest.raises(ConfigError, match="tron_payout_router"):
        tron_contracts(WalletdConfig(tron_payout_router="Tnotanaddress"))
    with pytest.raises(ConfigError, match="same contract"):
        tron_contracts(WalletdConfig(tron_payout_router="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"))
    with pytest.raises(ConfigError, match="tron_payout_function"):
        tron_contracts(WalletdConfig(tron_payout_function="payout(uint256)"))


def test_walletd_starts_without_the_chain_libraries() -> None:
    # The recording pipeline starts walletd often; eth-account and tronpy load on first use.
    code = (
        "import sys, lucid.walletd.daemon, lucid.walletd.service;"
        "heavy = [m for m in ('eth_account', 'tronpy', 'eth_abi', 'web3') if m in sys.modules];"
        "sys.exit(', '.join(heavy) or None)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
