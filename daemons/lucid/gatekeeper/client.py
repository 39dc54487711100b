"""Typed proxy for io.lucid.Gatekeeper1 — the only gatekeeper module other daemons import.

Documents travel as JSON text, as in the contract: results that are JSON come back as the
daemon's canonical JSON text (parse them with ``json.loads``; the approval document must
be handed back to `complete_approval` as it came). JSON arguments may be given as text or
as JSON-shaped mappings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import GATEKEEPER

JsonArg = str | Mapping[str, Any]


def _text(value: JsonArg) -> str:
    return value if isinstance(value, str) else json.dumps(dict(value))


class GatekeeperClient(ContractClient):
    contract = GATEKEEPER

    async def get_policy(self) -> tuple[str, str]:
        """(policy JSON, policy hash hex)."""
        policy, digest = await self.call("GetPolicy")
        return str(policy), str(digest)

    async def set_policy(self, policy: JsonArg) -> str:
        return str(await self.call("SetPolicy", _text(policy)))

    async def request_session(self, request: JsonArg) -> str:
        return str(await self.call("RequestSession", _text(request)))

    async def get_request(self, session: str) -> str:
        return str(await self.call("GetRequest", session))

    async def list_requests(self, state: str = "") -> str:
        return str(await self.call("ListRequests", state))

    async def begin_approval(
        self, session: str, account: str, decision: str = "approve", scope: str = ""
    ) -> tuple[str, str]:
        """(approval document JSON, WebAuthn PublicKeyCredentialRequestOptions JSON)."""
        document, options = await self.call("BeginApproval", session, account, decision, scope)
        return str(document), str(options)

    async def complete_approval(self, session: str, document: JsonArg, credential: JsonArg) -> str:
        return str(await self.call("CompleteApproval", session, _text(document), _text(credential)))

    async def decide_with_password(
        self, session: str, account: str, decision: str, scope: str = ""
    ) -> str:
        return str(await self.call("DecideWithPassword", session, account, decision, scope))

    async def deny(self, session: str, account: str, reason: str = "") -> None:
        await self.call("Deny", session, account, reason)

    async def revoke(self, session: str, account: str, reason: str = "") -> None:
        await self.call("Revoke", session, account, reason)

    async def get_grant(self, session: str) -> dict[str, str]:
        return dict(await self.call("GetGrant", session))

    async def mark_active(self, session: str) -> None:
        await self.call("MarkActive", session)

    async def mark_ended(self, session: str) -> None:
        await self.call("MarkEnded", session)

    async def get_session_policy(self, session: str) -> str:
        return str(await self.call("GetSessionPolicy", session))

    async def begin_registration(self, account: str) -> str:
        return str(await self.call("BeginRegistration", account))

    async def complete_registration(
        self, account: str, credential: JsonArg, enrollment_code: str
    ) -> str:
        return str(
            await self.call("CompleteRegistration", account, _text(credential), enrollment_code)
        )

    async def create_enrollment(self, account: str, role: str) -> str:
        return str(await self.call("CreateEnrollment", account, role))

    async def list_accounts(self) -> str:
        return str(await self.call("ListAccounts"))
