"""io.lucid.AdminUi1: where the page is and whether the device is claimed."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.admin_ui.accounts import AccountStore
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import ADMIN_UI


class AdminUiService(ContractService):
    contract = ADMIN_UI

    def __init__(self, bus: MessageBus, store: AccountStore, url: str, listen: str) -> None:
        super().__init__(bus)
        self._store = store
        self._url = url
        self._listen = listen

    async def get_status(self, caller: Caller) -> dict[str, str]:
        onboarded = await self._store.has_owner()
        return {
            "url": self._url,
            "listen": self._listen,
            "onboarded": "true" if onboarded else "false",
        }
