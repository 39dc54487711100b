"""Onboarding with the device setup code, password login and logout, and the rate limit."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.admin_ui.client import AdminUiClient
from lucid.evidence.softpasskey import SoftPasskey
from tests.admin_ui.conftest import PASSWORD, Browser, invite_and_enroll, new_browser


async def test_nothing_works_before_onboarding(browser: Browser, bus: MessageBus) -> None:
    assert (await browser.ok("GET", "/api/setup"))["onboarded"] is False
    status = await AdminUiClient(bus).get_status()
    assert status["onboarded"] == "false" and status["url"] == browser.ui.origin + "/"
    got, data = await browser.call("POST", "/api/login", {"account": "alice", "password": PASSWORD})
    assert (got, data["error"]) == (401, "wrong_credentials")
    for path in ("/api/me", "/api/requests", "/api/device"):
        got, data = await browser.call("GET", path)
        assert (got, data["error"]) == (401, "login_required")


async def test_wrong_setup_code_is_refused_before_any_passkey(browser: Browser) -> None:
    # refused at the first step: the browser is never asked to make a passkey for it
    body = {"account": "alice", "setup_code": "nope"}
    got, data = await browser.call("POST", "/api/setup", body)
    assert (got, data["error"]) == (403, "wrong_code") and "publicKey" not in data
    assert (await browser.ok("GET", "/api/setup"))["onboarded"] is False
    # the code check stored nothing: the right code still claims the device, for alice
    assert (await browser.onboard("alice"))["role"] == "owner"


async def test_a_begun_setup_cannot_complete_once_claimed(browser: Browser) -> None:
    code = browser.ui.setup_code()
    begun = await browser.ok("POST", "/api/setup", {"account": "alice", "setup_code": code})
    # meanwhile someone else claims the device with the code: this flow is refused
    async with await new_browser(browser.ui) as http:
        await Browser(browser.ui, http).onboard("bob")
    credential = SoftPasskey.generate().register(begun["publicKey"], browser.ui.origin)
    got, data = await browser.call("POST", f"/api/setup/{begun['flow']}", credential)
    assert (got, data["error"]) == (409, "onboarded")


async def test_wrong_setup_codes_count_against_the_rate_limit(browser: Browser) -> None:
    body = {"account": "alice", "setup_code": "nope"}
    for _ in range(3):  # login_attempts = 3 in these tests
        got, data = await browser.call("POST", "/api/setup", body)
        assert (got, data["error"]) == (403, "wrong_code")
    body["setup_code"] = browser.ui.setup_code()
    got, data = await browser.call("POST", "/api/setup", body)
    assert (got, data["error"]) == (429, "rate_limited")


async def test_onboarding_creates_the_owner_once(browser: Browser, bus: MessageBus) -> None:
    code = browser.ui.setup_code()
    result = await browser.onboard("alice")
    assert result["role"] == "owner"
    me = await browser.ok("GET", "/api/me")
    assert me["account"] == "alice" and me["password"] and len(me["passkeys"]) == 1
    assert (await AdminUiClient(bus).get_status())["onboarded"] == "true"
    # the code is spent: nobody can claim the device again, with it or without
    async with await new_browser(browser.ui) as http:
        other = Browser(browser.ui, http)
        got, data = await other.call(
            "POST", "/api/setup", {"account": "mallory", "setup_code": code}
        )
        assert (got, data["error"]) == (409, "onboarded")
    assert not (browser.ui.env.state / "gatekeeper" / "setup-code").exists()


async def test_setup_without_origin_is_refused(browser: Browser) -> None:
    body = {"account": "alice", "setup_code": "x"}
    got, data = await browser.call("POST", "/api/setup", body, {"Origin": "http://evil.example"})
    assert (got, data["error"]) == (403, "csrf")


async def test_password_and_passkey_login_and_logout(owner: Browser) -> None:
    ui = owner.ui
    async with await new_browser(ui) as http:
        second = Browser(ui, http)
        await second.login("alice")
        assert (await second.ok("GET", "/api/me"))["role"] == "owner"
        await second.ok("POST", "/api/logout", status=204)
        got, _ = await second.call("GET", "/api/me")
        assert got == 401
    async with await new_browser(ui) as http:
        third = Browser(ui, http)
        begun = await third.ok("POST", "/api/login/passkey")
        assert owner.passkey is not None
        credential = owner.passkey.assert_(begun["publicKey"], ui.origin)
        result = await third.ok("POST", f"/api/login/passkey/{begun['flow']}", credential)
        assert result["account"] == "alice"
        third.csrf = result["csrf"]
        # a signed assertion for another origin is refused
        begun = await third.ok("POST", "/api/login/passkey")
        forged = owner.passkey.assert_(begun["publicKey"], "http://localhost:1")
        got, data = await third.call("POST", f"/api/login/passkey/{begun['flow']}", forged)
        assert (got, data["error"]) == (401, "wrong_credentials")


async def test_login_rate_limit(owner: Browser) -> None:
    async with await new_browser(owner.ui) as http:
        b = Browser(owner.ui, http)
        for _ in range(3):  # login_attempts = 3 in the fixture
            got, _ = await b.call(
                "POST", "/api/login", {"account": "alice", "password": "wrong password"}
            )
            assert got == 401
        async with http.post(
            owner.ui.base + "/api/login",
            json={"account": "alice", "password": PASSWORD},
            headers={"Origin": owner.ui.origin},
        ) as resp:
            assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
        # a login that is already open keeps working
        await owner.ok("GET", "/api/me")


async def test_enrollment_codes_are_single_use(owner: Browser) -> None:
    invitation = await owner.ok("POST", "/api/accounts", {"account": "bob", "role": "viewer"}, 201)
    bob = await invite_and_enroll(owner, "carol", "auditor")
    assert (await bob.ok("GET", "/api/me"))["role"] == "auditor"
    await bob.http.close()
    async with await new_browser(owner.ui) as http:
        b = Browser(owner.ui, http)
        body = {"account": "bob", "code": invitation["code"], "password": PASSWORD}
        await b.ok("POST", "/api/enroll", body, 201)
        got, data = await b.call("POST", "/api/enroll", body | {"account": "bob"})
        assert (got, data["error"]) == (403, "wrong_code")
        got, data = await b.call("POST", "/api/enroll", body | {"account": "dave"})
        assert got == 403


async def test_enroll_with_passkey_then_add_one(owner: Browser) -> None:
    invitation = await owner.ok("POST", "/api/accounts", {"account": "erin", "role": "admin"}, 201)
    async with await new_browser(owner.ui) as http:
        erin = Browser(owner.ui, http)
        begun = await erin.ok(
            "POST", "/api/enroll/passkey", {"account": "erin", "code": invitation["code"]}
        )
        erin.passkey = SoftPasskey.generate("Ed25519")
        credential = erin.passkey.register(begun["publicKey"], owner.ui.origin)
        result = await erin.ok("POST", f"/api/enroll/passkey/{begun['flow']}", credential, 201)
        assert result["role"] == "admin"
        erin.csrf = result["csrf"]
        begun = await erin.ok("POST", "/api/me/passkeys")
        second = SoftPasskey.generate()
        await erin.ok(
            "POST",
            f"/api/me/passkeys/{begun['flow']}",
            second.register(begun["publicKey"], owner.ui.origin),
            201,
        )
        assert len((await erin.ok("GET", "/api/me"))["passkeys"]) == 2
    accounts = await owner.ok("GET", "/api/accounts")
    erin_row = next(a for a in accounts if a["account"] == "erin")
    assert len(erin_row["approval_passkeys"]) == 2 and erin_row["password"] is False


async def test_admin_may_not_invite_an_owner(owner: Browser) -> None:
    admin = await invite_and_enroll(owner, "frank", "admin")
    try:
        got, data = await admin.call("POST", "/api/accounts", {"account": "gina", "role": "owner"})
        assert (got, data["error"]) == (403, "invite_refused")
        await admin.ok("POST", "/api/accounts", {"account": "gina", "role": "viewer"}, 201)
    finally:
        await admin.http.close()


async def test_password_change_ends_other_logins(owner: Browser) -> None:
    async with await new_browser(owner.ui) as http:
        other = Browser(owner.ui, http)
        await other.login("alice")
        got, data = await owner.call(
            "POST", "/api/me/password", {"current": "wrong one", "new": "another long password"}
        )
        assert (got, data["error"]) == (403, "wrong_credentials")
        await owner.ok(
            "POST", "/api/me/password", {"current": PASSWORD, "new": "another long password"}
        )
        got, _ = await other.call("GET", "/api/me")
        assert got == 401
        await owner.ok("GET", "/api/me")
        await other.login("alice", "another long password")


async def test_totp_is_required_once_on(owner: Browser) -> None:
    import pyotp

    begun = await owner.ok("POST", "/api/me/totp")
    totp = pyotp.TOTP(begun["secret"])
    got, _ = await owner.call(
        "POST",
        f"/api/me/totp/{begun['flow']}",
        {"code": "000000" if totp.now() != "000000" else "111111"},
    )
    assert got == 400
    begun = await owner.ok("POST", "/api/me/totp")
    totp = pyotp.TOTP(begun["secret"])
    await owner.ok("POST", f"/api/me/totp/{begun['flow']}", {"code": totp.now()})
    async with await new_browser(owner.ui) as http:
        b = Browser(owner.ui, http)
        got, data = await b.call("POST", "/api/login", {"account": "alice", "password": PASSWORD})
        assert (got, data["error"]) == (401, "wrong_credentials")
        await b.ok(
            "POST", "/api/login", {"account": "alice", "password": PASSWORD, "totp": totp.now()}
        )


async def test_accounts_and_logins_survive_a_restart(owner: Browser, bus: MessageBus) -> None:
    ui = owner.ui
    await ui.daemons.stop("admin_ui")
    await ui.daemons.start("admin_ui")
    assert (await owner.ok("GET", "/api/me"))["account"] == "alice"
    assert (ui.env.state / "admin_ui" / "url").read_text().strip() == ui.origin + "/"
    assert (await AdminUiClient(bus).get_status())["onboarded"] == "true"
