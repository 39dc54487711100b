"""io.lucid.TronNode1: thin bus adapter over the payer."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import TRON_NODE
from lucid.runtime.errors import BusError
from lucid.tron_node import staking
from lucid.tron_node.ledger import Payout
from lucid.tron_node.payer import Payer


def payout_info(p: Payout) -> dict[str, str]:
    return {
        "payee": p.payee,
        "epoch": str(p.epoch),
        "start": str(p.credits.get("start", "")),
        "end": str(p.credits.get("end", "")),
        "amount": str(p.amount),
        "credits": str(p.credits.get("credits", "")),
        "method": p.method,
        "contract": p.contract,
        "state": p.state,
        "txid": p.txid,
        "block": str(p.block),
        "attempts": str(p.attempts),
        "error": p.error,
        "message": p.message,
        "created_at": f"{p.created_at:.3f}",
        "updated_at": f"{p.updated_at:.3f}",
    }


class TronNodeService(ContractService):
    contract = TRON_NODE

    def __init__(self, bus: MessageBus, payer: Payer, stake: staking.Staking) -> None:
        super().__init__(bus)
        self.payer = payer
        self._stake = stake

    async def get_status(self, caller: Caller) -> dict[str, str]:
        return await self.payer.status()

    async def get_credits(self, caller: Caller, epoch: int) -> dict[str, str]:
        return {k: str(v) for k, v in (await self.payer.credits(epoch)).as_dict().items()}

    async def list_payouts(self, caller: Caller) -> list[dict[str, str]]:
        return [payout_info(p) for p in await self.payer.ledger.payouts()]

    async def run_payouts(self, caller: Caller, epoch: int) -> dict[str, str]:
        return payout_info(await self.payer.run(epoch))

    async def get_staking(self, caller: Caller) -> dict[str, str]:
        try:
            owner = await self.payer.account()
        except BusError:
            owner = ""
        return await staking.report(self._stake, self.payer.node, owner)

    async def apply_staking(self, caller: Caller) -> str:
        staking.apply(self._stake)

    def payout_changed(self, p: Payout) -> None:
        self.emit("PayoutChanged", p.payee, p.epoch, p.state)
