"""Typed proxy for io.lucid.TronNode1."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import TRON_NODE


class TronNodeClient(ContractClient):
    contract = TRON_NODE

    async def get_status(self) -> dict[str, str]:
        return dict(await self.call("GetStatus"))

    async def get_credits(self, epoch: int = -1) -> dict[str, str]:
        return dict(await self.call("GetCredits", epoch))

    async def list_payouts(self) -> list[dict[str, str]]:
        return [dict(p) for p in await self.call("ListPayouts")]

    async def run_payouts(self, epoch: int = -1) -> dict[str, str]:
        return dict(await self.call("RunPayouts", epoch))

    async def get_staking(self) -> dict[str, str]:
        return dict(await self.call("GetStaking"))

    async def apply_staking(self) -> str:
        return str(await self.call("ApplyStaking"))
