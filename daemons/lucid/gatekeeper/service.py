"""io.lucid.Gatekeeper1: thin bus adapter over `Gatekeeper`.

Who may call each method is in the interface XML (io.lucid.Callers), enforced before a
handler runs; Deny and Revoke also take the acting account from the caller's identity
(``acting_account``). JSON goes out as canonical JSON text.
"""

from __future__ import annotations

from typing import Any

from dbus_fast.aio import MessageBus

from lucid.evidence.canonical import canonical_json
from lucid.gatekeeper.gate import Gatekeeper
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import ADMIN_UI, GATEKEEPER
from lucid.runtime.errors import InvalidArgumentError, NotAuthorizedError


def _json(value: Any) -> str:
    return canonical_json(value).decode()


class GatekeeperService(ContractService):
    contract = GATEKEEPER

    def __init__(self, bus: MessageBus, gate: Gatekeeper) -> None:
        super().__init__(bus)
        self._gate = gate

    async def get_policy(self, caller: Caller) -> tuple[str, str]:
        return self._gate.get_policy()

    async def set_policy(self, caller: Caller, policy: str) -> str:
        return await self._gate.set_policy(policy, by=ADMIN_UI.daemon)

    async def request_session(self, caller: Caller, request: str) -> str:
        return await self._gate.request_session(request)

    async def get_request(self, caller: Caller, session: str) -> str:
        return _json(await self._gate.get_request(session))

    async def list_requests(self, caller: Caller, state: str) -> str:
        return _json(await self._gate.list_requests(state))

    async def begin_approval(
        self, caller: Caller, session: str, account: str, decision: str, scope: str
    ) -> tuple[str, str]:
        return await self._gate.begin_approval(session, account, decision, scope)

    async def complete_approval(
        self, caller: Caller, session: str, document: str, credential: str
    ) -> str:
        return await self._gate.complete_approval(session, document, credential)

    async def decide_with_password(
        self, caller: Caller, session: str, account: str, decision: str, scope: str
    ) -> str:
        return await self._gate.decide_with_password(session, account, decision, scope)

    async def deny(self, caller: Caller, session: str, account: str, reason: str) -> None:
        await self._gate.deny(session, acting_account(caller, account), reason)

    async def revoke(self, caller: Caller, session: str, account: str, reason: str) -> None:
        await self._gate.revoke(session, acting_account(caller, account), reason)

    async def get_grant(self, caller: Caller, session: str) -> dict[str, str]:
        return await self._gate.get_grant(session)

    async def mark_active(self, caller: Caller, session: str) -> None:
        await self._gate.mark_active(session)

    async def mark_ended(self, caller: Caller, session: str) -> None:
        await self._gate.mark_ended(session)

    async def get_session_policy(self, caller: Caller, session: str) -> str:
        return _json(await self._gate.get_session_policy(session))

    async def begin_registration(self, caller: Caller, account: str) -> str:
        return await self._gate.begin_registration(account)

    async def complete_registration(
        self, caller: Caller, account: str, credential: str, enrollment_code: str
    ) -> str:
        return await self._gate.complete_registration(account, credential, enrollment_code)

    async def create_enrollment(self, caller: Caller, account: str, role: str) -> str:
        return await self._gate.create_enrollment(account, role)

    async def list_accounts(self, caller: Caller) -> str:
        return _json(await self._gate.list_accounts())


def acting_account(caller: Caller, account: str) -> str:
    """Who a Deny or Revoke is recorded as: the web account admin-ui authenticated, or for the
    console ``console:<unix user>`` from the bus — never a name the console merely claims.

    Raises:
        NotAuthorizedError: the console named an account other than its own.
    """
    if caller.principal == ADMIN_UI.daemon:
        if not account:
            raise InvalidArgumentError("admin-ui must name the account that decides")
        return account
    console = f"console:{caller.user}"
    if account not in ("", console):
        raise NotAuthorizedError(
            f"the console acts as {console}, not {account!r}; web accounts decide on the web page"
        )
    return console
