"""Typed proxy for io.lucid.AdminUi1 (what the CLI uses to print the page's address)."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import ADMIN_UI


class AdminUiClient(ContractClient):
    contract = ADMIN_UI

    async def get_status(self) -> dict[str, str]:
        return dict(await self.call("GetStatus"))
