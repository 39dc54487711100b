"""Deploy the Lucid contracts to a development chain and fund the device there.

For ``make run`` / ``lucid demo`` on a local chain (anvil): the deployer and the funder are
the endpoint's first unlocked account (``eth_accounts[0]``, which anvil and other dev nodes
provide). Deploys ``LucidAnchors`` and, when its artifact is exported, ``LucidChunkStore``
(constructed with the LucidAnchors address). It never touches a key of the device and is
not meant for a real network (there, deploy with Foundry and put the address in the config).
"""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3

from lucid.chain_client import artifacts
from lucid.chain_client.errors import ChainError


async def _dev_account(w3: AsyncWeb3[Any]) -> str:
    accounts = await w3.eth.accounts
    if not accounts:
        raise ChainError("the endpoint has no unlocked account to deploy or fund from")
    return str(accounts[0])


async def _deploy(w3: AsyncWeb3[Any], sender: str, name: str, *args: Any) -> str:
    art = artifacts.load(name)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx_hash = await factory.constructor(*args).transact({"from": sender})
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise ChainError(f"deploying {name} failed (tx {tx_hash.hex()})")
    return str(receipt["contractAddress"]).lower()


async def deploy_contracts(w3: AsyncWeb3[Any]) -> dict[str, str]:
    """Deploy the contracts from the dev account; returns ``{name: address}`` (lowercase).

    Raises:
        ChainError: no unlocked account, or a deployment reverted.
        ConfigError: the LucidAnchors artifact is missing.
    """
    sender = await _dev_account(w3)
    out = {artifacts.ANCHORS: await _deploy(w3, sender, artifacts.ANCHORS)}
    if artifacts.available(artifacts.CHUNK_STORE):
        out[artifacts.CHUNK_STORE] = await _deploy(
            w3, sender, artifacts.CHUNK_STORE, to_checksum_address(out[artifacts.ANCHORS])
        )
    return out


async def fund(w3: AsyncWeb3[Any], address: str, wei: int) -> int:
    """Top `address` up to `wei` from the dev account; returns what was sent (0: enough)."""
    target = to_checksum_address(address)
    have = int(await w3.eth.get_balance(target))
    if have >= wei:
        return 0
    sender = await _dev_account(w3)
    tx_hash = await w3.eth.send_transaction({"from": sender, "to": target, "value": wei - have})  # type: ignore[typeddict-item]  # str addresses are accepted
    await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    return wei - have
