"""The logged-in account itself: who am I, password, TOTP, more passkeys, event stream."""

from __future__ import annotations

from aiohttp import web

from lucid.admin_ui import auth
from lucid.admin_ui.accounts import Credential, digest
from lucid.admin_ui.deps import deps_of, login_of
from lucid.admin_ui.jsonio import ApiError, body, body_and_text, ok, text
from lucid.admin_ui.passkeys import (
    Flow,
    PasskeyError,
    challenge_of,
    public_key_options,
    verify_registration,
)
from lucid.admin_ui.sse import stream


async def me(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    account = await deps.store.get(login.account)
    if account is None:
        raise ApiError(401, "login_required", "the account is gone")
    creds = await deps.store.credentials(login.account)
    return ok(
        {
            "account": login.account,
            "role": login.role.value,
            "csrf": login.csrf,
            "expires_at": login.expires_at,
            "password": account.password_hash is not None,
            "totp": account.totp_secret is not None,
            "passkeys": [c.id for c in creds],
        }
    )


async def change_password(request: web.Request) -> web.Response:
    """Set or change the password; with one set already, ``current`` (and TOTP) are checked."""
    deps, login = deps_of(request), login_of(request)
    data = await body(request)
    new = auth.check_new_password(data.get("new"))
    account = await deps.store.get(login.account)
    if account is not None and account.password_hash is not None:
        current = text(data, "current", default="", limit=auth.MAX_PASSWORD)
        try:
            await deps.passwords.check_attempt(
                deps.limiter, [f"acct:{login.account}"], account, current, data.get("totp")
            )
        except auth.AuthFailure as err:
            raise ApiError(403, "wrong_credentials", str(err)) from err
    await deps.store.set_password(login.account, await deps.passwords.hash(new))
    await deps.store.drop_logins(login.account, keep_token=login.token)
    return ok({"password": True})


async def totp_begin(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    secret = auth.new_totp_secret()
    flow_id = deps.flows.put(Flow("totp", b"", digest(login.token), {"secret": secret}))
    return ok({"flow": flow_id, "secret": secret, "uri": auth.totp_uri(secret, login.account)})


async def totp_confirm(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    data = await body(request)
    code = text(data, "code", limit=16)
    flow = deps.flows.take(request.match_info["flow"], "totp", digest(login.token))
    if flow is None:
        raise ApiError(404, "no_flow", "unknown or expired TOTP setup; start again")
    if not auth.totp_ok(str(flow.data["secret"]), code):
        raise ApiError(400, "wrong_code", "the code does not match; start again")
    await deps.store.set_totp(login.account, str(flow.data["secret"]))
    return ok({"totp": True})


async def totp_disable(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    data = await body(request)
    account = await deps.store.get(login.account)
    if account is None or account.totp_secret is None:
        raise ApiError(409, "conflict", "TOTP is not on")
    if not auth.totp_ok(account.totp_secret, data.get("code")):
        raise ApiError(403, "wrong_credentials", "wrong TOTP code")
    await deps.store.set_totp(login.account, None)
    return ok({"totp": False})


async def passkey_begin(request: web.Request) -> web.Response:
    """Register another passkey for this account (gatekeeper issues a code for it)."""
    deps, login = deps_of(request), login_of(request)
    code = await deps.peers.gatekeeper.create_enrollment(login.account, login.role.value)
    options = public_key_options(await deps.peers.gatekeeper.begin_registration(login.account))
    flow = Flow("passkey", challenge_of(options), digest(login.token), {"code": code})
    return ok({"flow": deps.flows.put(flow), "publicKey": options})


async def passkey_complete(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    flow = deps.flows.take(request.match_info["flow"], "passkey", digest(login.token))
    if flow is None:
        raise ApiError(404, "no_flow", "unknown or expired registration; start again")
    credential, raw = await body_and_text(request)
    try:
        passkey = verify_registration(credential, flow.challenge, deps.rp_id, deps.origin)
    except PasskeyError as err:
        raise ApiError(400, "passkey", str(err)) from err
    await deps.peers.gatekeeper.complete_registration(login.account, raw, str(flow.data["code"]))
    cred = Credential(passkey.id, login.account, passkey.public_key, passkey.sign_count)
    if not await deps.store.add_credential(cred):
        raise ApiError(409, "conflict", "this passkey is registered already")
    return ok({"id": passkey.id}, 201)


async def events(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    return await stream(request, deps.hub, deps.logins, login_of(request))
