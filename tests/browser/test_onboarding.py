"""First visit, claiming the device with its setup code, and passkey logins in Chromium."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from playwright.async_api import Browser, expect

from tests.browser.conftest import (
    ALGORITHMS,
    ED25519,
    ES256,
    Device,
    Tab,
    claim,
    credential_algorithm,
    open_tab,
    row,
    status,
    visit,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

FETCH_STATUS = """
async ([method, path, body]) => {
  const init = { method, headers: { "Content-Type": "application/json" } };
  if (body !== null) init.body = JSON.stringify(body);
  return (await fetch(path, init)).status;
}
"""


async def fetch_status(tab: Tab, method: str, path: str, body: object = None) -> int:
    """What the page's own JavaScript would get (same origin, the browser's cookies)."""
    return int(await tab.page.evaluate(FETCH_STATUS, [method, path, body]))


async def test_first_visit_claims_the_device_with_the_setup_code(
    tab: Tab, chromium: Browser
) -> None:
    page, device = tab.page, tab.device
    code = device.setup_code()
    await page.goto("/")
    await expect(page.get_by_text("This device has no owner yet")).to_be_visible()
    await expect(page.get_by_role("navigation")).to_be_hidden()
    await tab.screenshot("onboarding")
    # no default account, no default password: nothing but the setup code gets in
    assert await fetch_status(tab, "GET", "/api/me") == 401
    default = {"account": "admin", "password": "admin"}
    assert await fetch_status(tab, "POST", "/api/login", default) == 401

    # a wrong code is refused by gatekeeper and claims nothing; it is refused before the
    # browser is asked for a passkey, so the authenticator keeps no stray one
    await page.get_by_label("Setup code").fill("not-the-code")
    await page.get_by_label("Account name").fill("mallory")
    await page.get_by_role("button", name="Register passkey and claim").click()
    await expect(status(tab)).to_contain_text("gatekeeper refused the code")
    await expect(page.get_by_role("navigation")).to_be_hidden()
    assert device.setup_code() == code
    assert await tab.authenticator.credentials() == []

    # the code the device shows makes the first account its owner (no password chosen)
    await page.get_by_label("Setup code").fill(code)
    await page.get_by_label("Account name").fill("alice")
    await page.get_by_role("button", name="Register passkey and claim").click()
    await expect(page.get_by_role("heading", name="Pending requests")).to_be_visible()
    await expect(page.get_by_role("navigation")).to_be_visible()
    assert not device.setup_code_file().exists()  # spent
    [credential] = await tab.authenticator.credentials()  # alice's, and only hers
    assert credential["rpId"] == "localhost"
    await visit(tab, "My account", "alice (owner)")
    await expect(page.get_by_text("1 passkey(s) for login")).to_be_visible()
    await visit(tab, "Accounts", "Accounts")
    accounts = page.get_by_role("table").first.get_by_role("row")
    await expect(accounts).to_have_count(2)  # the header and alice
    await expect(row(tab, "alice").get_by_role("cell")).to_have_text(
        ["alice", "owner", "no", "no", "1"]
    )
    accounts_list = await device.gatekeeper.list_accounts()
    assert "mallory" not in accounts_list and "alice" in accounts_list

    # later visitors get a login, never the setup form; the spent code claims nothing
    other = await open_tab(chromium, device)
    try:
        await other.page.goto("/")
        await expect(other.page.get_by_role("button", name="Log in with a passkey")).to_be_visible()
        await expect(other.page.get_by_text("This device has no owner yet")).to_have_count(0)
        again = {"account": "eve", "setup_code": code}
        assert await fetch_status(other, "POST", "/api/setup", again) == 409
        # alice has no password, so no password logs in as her
        await other.page.get_by_label("Account", exact=True).fill("alice")
        await other.page.get_by_label("Password", exact=True).fill("correct horse battery")
        await other.page.get_by_role("button", name="Log in", exact=True).click()
        await expect(status(other)).to_have_class("error")
        await expect(other.page.get_by_role("navigation")).to_be_hidden()
    finally:
        await other.context.close()


@pytest.mark.parametrize("alg", [ES256, ED25519], ids=ALGORITHMS.get)
async def test_passkey_login(tab: Tab, chromium: Browser, device: Device, alg: int) -> None:
    page = tab.page
    await tab.only_algorithm(alg)
    await claim(tab, "alice")
    [credential] = await tab.authenticator.credentials()
    assert credential_algorithm(credential) == alg
    assert credential["rpId"] == "localhost" and credential["isResidentCredential"]

    await page.get_by_role("button", name="Log out").click()
    login = page.get_by_role("button", name="Log in with a passkey")
    await expect(login).to_be_visible()
    await expect(page.get_by_role("navigation")).to_be_hidden()
    assert await fetch_status(tab, "GET", "/api/me") == 401
    await tab.screenshot("login")
    await login.click()
    await expect(page.get_by_role("heading", name="Pending requests")).to_be_visible()
    await visit(tab, "My account", "alice (owner)")
    [credential] = await tab.authenticator.credentials()  # its signature counter moved on

    # the same passkey on another browser profile (seeded into its authenticator) logs in
    # there too; a passkey the device never registered does not
    other = await open_tab(chromium, device)
    try:
        await other.authenticator.add(credential)
        await other.page.goto("/")
        await other.page.get_by_role("button", name="Log in with a passkey").click()
        await expect(other.page.get_by_role("heading", name="Pending requests")).to_be_visible()
        await visit(other, "My account", "alice (owner)")
        [used] = await other.authenticator.credentials()
        assert used["signCount"] > credential["signCount"]
    finally:
        await other.context.close()
    stranger = await open_tab(chromium, device)
    try:
        await stranger.authenticator.add(unregistered_passkey(alg))
        await stranger.page.goto("/")
        await stranger.page.get_by_role("button", name="Log in with a passkey").click()
        await expect(status(stranger)).to_have_text("this passkey is not registered here")
        await expect(stranger.page.get_by_role("navigation")).to_be_hidden()
    finally:
        await stranger.context.close()


def unregistered_passkey(alg: int) -> dict[str, object]:
    """A CDP credential for localhost that was never registered with the device."""
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if alg == ES256
        else ed25519.Ed25519PrivateKey.generate()
    )
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return {
        "credentialId": base64.b64encode(os.urandom(32)).decode(),
        "isResidentCredential": True,
        "rpId": "localhost",
        "privateKey": base64.b64encode(der).decode(),
        "userHandle": base64.b64encode(os.urandom(32)).decode(),
        "signCount": 0,
    }
