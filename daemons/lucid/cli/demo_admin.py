"""The demo admin: approves demo sessions through the same signed path a person uses.

``lucid demo`` and ``lucid up --desktop`` run unattended, so a software passkey (kept in the
state directory, enrolled with the device setup code on first use) files the session request
and signs the approval. gatekeeper verifies that assertion exactly as it verifies a browser's,
and the manifest carries the approval record. On a real device nobody enrolls this account.
"""

from __future__ import annotations

import json
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.evidence.softpasskey import SoftPasskey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import LucidError

DEMO_ADMIN = "demo-admin"
PASSKEY_FILE = "demo-admin.passkey"
DEMO_SCOPE = {
    "ttl_s": 3600,
    "max_duration_s": 3600,
    "clipboard": False,
    "file_transfer": False,
    "drives": False,
}


async def _passkey(gatekeeper: GatekeeperClient, state_dir: Path) -> SoftPasskey:
    path = state_dir / PASSKEY_FILE
    if path.exists():
        return SoftPasskey.load(path)
    try:
        code = (state_dir / "gatekeeper" / "setup-code").read_text().strip()
    except FileNotFoundError:
        raise LucidError(
            "the device already has an owner, so the demo admin cannot enroll; "
            "approve with `lucid sessions approve` or on the web page"
        ) from None
    passkey = SoftPasskey.generate("ES256")
    options = await gatekeeper.begin_registration(DEMO_ADMIN)
    origin = json.loads((await gatekeeper.get_policy())[0])["origins"][0]
    credential = passkey.register(options, origin)
    await gatekeeper.complete_registration(DEMO_ADMIN, credential, code)
    passkey.save(path)
    return passkey


async def approve_as_demo_admin(bus: MessageBus, state_dir: Path, session: str, user: str) -> str:
    """File a request for ``session`` and approve it with the demo admin's passkey.

    Args:
        bus: connection to the appliance's bus.
        state_dir: the daemons' state root (``paths.state_dir``).
        session: the session id to request.
        user: who the session is for.
    Returns:
        The request state after the approval (``approved``).
    """
    gatekeeper = GatekeeperClient(bus)
    passkey = await _passkey(gatekeeper, state_dir)
    await gatekeeper.request_session(
        {
            "id": session,
            "user": user,
            "source": "local",
            "target": user,
            "requested_scope": DEMO_SCOPE,
        }
    )
    policy, _digest = await gatekeeper.get_policy()
    origin = json.loads(policy)["origins"][0]
    document, options = await gatekeeper.begin_approval(session, DEMO_ADMIN, "approve", "")
    return await gatekeeper.complete_approval(session, document, passkey.assert_(options, origin))
