"""Default deny at the recorder: a session is recorded only under an approved grant.

``GatekeeperGate`` asks gatekeeper for the session's grant before capture starts and tells it
when recording starts and ends. ``UngatedRecording`` is the explicit opt-out for development
(``recorder.require_grant = false``): it admits everything and says so in the log; manifests of
such sessions carry no approval (``policy`` is null) and ``lucid verify`` reports that.
"""

from __future__ import annotations

import logging
from typing import Protocol

from lucid.runtime.errors import BusError, NotApprovedError, NotFoundError

log = logging.getLogger(__name__)


class Gate(Protocol):
    name: str  # recorded in session.json as "grant"

    async def admit(self, session: str) -> None:
        """Raise ``NotApprovedError`` unless the session may be recorded now."""
        ...

    async def release(self, session: str) -> None:
        """The recording of ``session`` ended."""
        ...


class GrantSource(Protocol):
    async def get_grant(self, session: str) -> dict[str, str]: ...

    async def mark_active(self, session: str) -> None: ...

    async def mark_ended(self, session: str) -> None: ...


class GatekeeperGate:
    name = "gatekeeper"

    def __init__(self, grants: GrantSource) -> None:
        self._grants = grants

    async def admit(self, session: str) -> None:
        try:
            grant = await self._grants.get_grant(session)
        except NotFoundError:
            raise NotApprovedError(f"no request for session {session}; file one first") from None
        if grant.get("state") not in ("approved", "active"):  # active: a recorder restart
            raise NotApprovedError(
                f"session {session} is {grant.get('state', 'unknown')}, not approved"
            )
        await self._grants.mark_active(session)

    async def release(self, session: str) -> None:
        try:
            await self._grants.mark_ended(session)
        except BusError as err:  # the grant then ends by expiry; the recording is safe
            log.warning("could not tell gatekeeper that %s ended: %s", session, err)


class UngatedRecording:
    name = "none"

    async def admit(self, session: str) -> None:
        log.warning("recording %s without approval (recorder.require_grant = false)", session)

    async def release(self, session: str) -> None:
        log.info("ungated session %s ended", session)
