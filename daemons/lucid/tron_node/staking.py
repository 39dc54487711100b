"""TRX staking (stake 2.0) for energy or bandwidth: configuration, read and reported.

Payout calls burn energy; TRX frozen by the paying account buys it instead. The amount and
resource are configuration (``tron_node.stake_trx_sun``, ``tron_node.stake_resource``); this
module reports them next to what the chain shows. It cannot apply them: walletd signs only
TransferContract and TriggerSmartContract payout calls (io.lucid.Walletd1
SignTronTransaction), and tronpy 0.6.2 cannot build a FreezeBalanceV2Contract offline. Until a
walletd that signs it exists, stake from another wallet and delegate the resource to the
device's account (DelegateResourceContract), or freeze from the account with a TRON wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from lucid.runtime.errors import BusError, NotSupportedError
from lucid.tron_node.node import TronNode

RESOURCES = ("ENERGY", "BANDWIDTH")
REASON = (
    "walletd signs only TransferContract and TriggerSmartContract payout calls, and tronpy "
    "0.6.2 cannot build FreezeBalanceV2Contract offline"
)


@dataclass(frozen=True)
class Staking:
    stake_trx_sun: int  # TRX to freeze, in sun; 0: none
    resource: str  # ENERGY | BANDWIDTH


async def report(staking: Staking, node: TronNode | None, owner: str) -> dict[str, str]:
    """``GetStaking``: the configured stake and what is frozen on chain for that resource."""
    out = {
        "stake_trx_sun": str(staking.stake_trx_sun),
        "stake_resource": staking.resource,
        "supported": "false",
        "reason": REASON,
        "frozen_sun": "",
        "energy_limit": "",
        "net_limit": "",
        "applied": "false",
    }
    if node is None or not owner:
        return out
    try:
        account = await node.account(owner) or {}
        resource = await node.account_resource(owner)
    except BusError as err:
        out["node"] = f"{err.name}: {err.message}"
        return out
    frozen = sum(
        int(f.get("amount", 0))
        for f in account.get("frozenV2", [])
        if f.get("type", "BANDWIDTH") == staking.resource
    )
    out["frozen_sun"] = str(frozen)
    out["energy_limit"] = str(int(resource.get("EnergyLimit", 0)))
    out["net_limit"] = str(int(resource.get("NetLimit", 0)))
    out["applied"] = "true" if frozen >= staking.stake_trx_sun else "false"
    return out


def apply(staking: Staking) -> NoReturn:
    """``ApplyStaking``: always refused, naming why (see the module docstring).

    Raises:
        NotSupportedError: always.
    """
    raise NotSupportedError(
        f"cannot freeze {staking.stake_trx_sun} sun for {staking.resource}: {REASON}; "
        "stake from another wallet and delegate the resource to this device's account"
    )
