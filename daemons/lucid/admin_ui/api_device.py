"""Keys, device health, the approval policy and accounts."""

from __future__ import annotations

import json
import platform
import re
import shutil
import time
from importlib import metadata
from urllib.parse import urlsplit

from aiohttp import web

from lucid.admin_ui import auth
from lucid.admin_ui.deps import Deps, deps_of, login_of
from lucid.admin_ui.jsonio import ApiError, Invalid, body, ok, parse_json_text, text
from lucid.admin_ui.peers import REQUIRED
from lucid.admin_ui.roles import MAY_INVITE, Role
from lucid.cli.trust import device_trust
from lucid.evidence.approvals import Policy
from lucid.evidence.errors import FormatError
from lucid.evidence.trust import TrustFile
from lucid.runtime.errors import BusError
from lucid.runtime.health import check_all


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


async def keys(request: web.Request) -> web.Response:
    """The device's public keys and the auditor recipients new sessions are wrapped to
    (walletd's ListRecipients: configured ones and those the owner added)."""
    deps = deps_of(request)
    identity = await deps.peers.walletd.get_identity()
    recipients = await deps.peers.walletd.list_recipients()
    return ok({"device": identity, "recipients": recipients})


async def add_recipient(request: web.Request) -> web.Response:
    """Add an auditor recipient (owner only): ``{"x25519": 64 hex, "label"?}``. Sessions
    recorded from now on open with that key (``lucid play --key``); earlier ones do not."""
    deps, login = deps_of(request), login_of(request)
    data = await body(request)
    key = text(data, "x25519", limit=128).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise Invalid("x25519: the auditor's public key, 64 hex digits (lucid keys auditor new)")
    label = text(data, "label", default="", limit=64).strip()
    added = await deps.peers.walletd.add_recipient(key, label, login.account)
    return ok(added, 201)


async def trust_file(deps: Deps) -> TrustFile:
    """The device's trust file as ``lucid trust export`` writes it (walletd's identity and
    the passkeys of gatekeeper's owners and admins; public keys only).

    Raises:
        ApiError: 502 when walletd's or gatekeeper's answer does not make a trust file.
    """
    try:
        return await device_trust(deps.peers.walletd, deps.peers.gatekeeper)
    except (FormatError, ValueError, KeyError) as err:
        raise ApiError(502, "upstream", f"the device's trust file cannot be built: {err}") from err


def _download_name(name: str) -> str:
    """A file name from the device's name (quotes, slashes and the like become ``-``)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:64].strip(".-")
    return f"{clean or 'device'}.trust.json"


async def trust(request: web.Request) -> web.Response:
    """Download the device's trust file (canonical JSON, docs/evidence.md §16) for
    ``lucid verify BUNDLE --trust FILE``; its fingerprint is the one ``lucid trust export``
    prints and the Device page shows."""
    exported = await trust_file(deps_of(request))
    return web.Response(
        body=exported.to_bytes(),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{_download_name(exported.name)}"',
            "Cache-Control": "no-store",
        },
    )


async def _rdp(deps: Deps) -> dict[str, str] | None:
    """How RDP clients connect (rdp_gate's answer), or None when no RDP host runs."""
    try:
        info = await deps.peers.rdp_gate.get_connection_info()
    except BusError:
        return None
    host = urlsplit(deps.origin).hostname or "localhost"
    return {
        "address": f"{host}:{info.get('port', '')}",
        "port": info.get("port", ""),
        "fingerprint_sha256": info.get("fingerprint_sha256", ""),
    }


async def device(request: web.Request) -> web.Response:
    """Each daemon's state (lucid.runtime.health: ok, degraded, off; chain-client says
    whether it anchors), storage, versions, the web address and the RDP host."""
    deps = deps_of(request)
    daemons = [
        {
            "daemon": d.daemon,
            "bus_name": d.bus_name,
            "running": d.running,
            "state": d.state,
            "detail": d.detail,
        }
        for d in await check_all(deps.peers.probes, REQUIRED)
    ]
    storage = []
    for path in deps.disks:
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            continue
        storage.append(
            {"path": str(path), "total": usage.total, "used": usage.used, "free": usage.free}
        )
    return ok(
        {
            "daemons": daemons,
            "storage": storage,
            "versions": {
                "lucid": _version("lucid"),
                "python": platform.python_version(),
                "aiohttp": _version("aiohttp"),
            },
            "url": deps.origin + "/",
            "rdp": await _rdp(deps),
            "time": time.time(),
        }
    )


async def get_policy(request: web.Request) -> web.Response:
    deps = deps_of(request)
    policy, digest = await deps.peers.gatekeeper.get_policy()
    return ok({"policy": parse_json_text(policy, "GetPolicy"), "hash": digest})


async def set_policy(request: web.Request) -> web.Response:
    """Replace the policy: the JSON policy document without ``version`` (gatekeeper adds it)."""
    deps = deps_of(request)
    data = await body(request)
    if "version" in data:
        raise Invalid("version: gatekeeper assigns the version; leave it out")
    try:
        Policy.from_dict(data | {"version": 1})  # the shape gatekeeper will accept
    except FormatError as err:
        raise Invalid(str(err)) from err
    digest = await deps.peers.gatekeeper.set_policy(json.dumps(data, separators=(",", ":")))
    policy, digest = await deps.peers.gatekeeper.get_policy()
    return ok({"policy": parse_json_text(policy, "GetPolicy"), "hash": digest})


async def list_accounts(request: web.Request) -> web.Response:
    """admin-ui's accounts joined with the passkeys gatekeeper holds for approvals."""
    deps = deps_of(request)
    listed = parse_json_text(await deps.peers.gatekeeper.list_accounts(), "ListAccounts")
    approvals = {
        str(a.get("account")): a.get("credentials", [])
        for a in (listed if isinstance(listed, list) else [])
        if isinstance(a, dict)
    }
    out = []
    for account in await deps.store.all():
        out.append(
            {
                "account": account.account,
                "role": account.role.value,
                "password": account.password_hash is not None,
                "totp": account.totp_secret is not None,
                "login_passkeys": [c.id for c in await deps.store.credentials(account.account)],
                "approval_passkeys": approvals.get(account.account, []),
            }
        )
    return ok(out)


async def invite(request: web.Request) -> web.Response:
    """Create a one-time enrollment code for a new account (shown once, kept hashed)."""
    deps, login = deps_of(request), login_of(request)
    data = await body(request)
    account = auth.check_account_name(data.get("account"))
    role_name = text(data, "role", limit=16)
    if role_name not in {r.value for r in Role}:
        raise Invalid("role: owner, admin, auditor or viewer")
    role = Role(role_name)
    if role not in MAY_INVITE.get(login.role, frozenset()):
        raise ApiError(403, "invite_refused", f"the {login.role} role may not invite a {role}")
    if await deps.store.get(account) is not None:
        raise ApiError(409, "conflict", f"account {account} exists already")
    code = await deps.peers.gatekeeper.create_enrollment(account, role.value)
    expires = time.time() + deps.enrollment_ttl_s
    await deps.store.add_enrollment(code, account, role, login.account, expires)
    return ok({"account": account, "role": role.value, "code": code, "expires_at": expires}, 201)
