"""The device page's data: daemon health and how RDP clients connect (from rdp_gate)."""

from __future__ import annotations

import hashlib
import ssl

from tests.admin_ui.conftest import Browser, free_port
from tests.conftest import wait_for


async def test_no_rdp_host_no_connection_details(owner: Browser) -> None:
    device = await owner.ok("GET", "/api/device")
    assert device["rdp"] is None
    health = {d["daemon"]: d["running"] for d in device["daemons"]}
    assert health["admin_ui"] is True and health["rdp_gate"] is False


async def test_rdp_connection_details_match_the_certificate(owner: Browser) -> None:
    lucid = owner.ui.env
    lucid.set("rdp_gate", "scp_port", str(free_port()))  # no real xrdp here: any free ports
    lucid.set("rdp_gate", "sesman_port", str(free_port()))
    lucid.set("rdp_gate", "rdp_port", "3390")
    await lucid.start("rdp_gate")

    device = await owner.ok("GET", "/api/device")
    rdp = device["rdp"]
    assert rdp["address"] == "localhost:3390" and rdp["port"] == "3390"
    pem = lucid.state / "rdp_gate" / "tls" / "cert.pem"
    der = ssl.PEM_cert_to_DER_cert(pem.read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    assert rdp["fingerprint_sha256"].replace(":", "") == digest
    assert {d["daemon"]: d["running"] for d in device["daemons"]}["rdp_gate"] is True


async def test_each_daemon_has_a_state_and_chain_client_says_why_it_cannot_anchor(
    owner: Browser,
) -> None:
    lucid = owner.ui.env
    device = await owner.ok("GET", "/api/device")
    states = {d["daemon"]: d for d in device["daemons"]}
    assert states["walletd"]["state"] == "ok" and states["admin_ui"]["state"] == "ok"
    assert states["rdp_gate"]["state"] == "off"  # the RDP host is optional
    chain = states["chain_client"]  # listed even when it does not run: the device needs it
    assert chain["state"] == "degraded" and chain["detail"] == "not running"

    lucid.overrides["LUCID_ANVIL"] = str(lucid.root / "no-anvil-here")
    await lucid.start("chain_client")

    async def settled() -> bool:
        listed = (await owner.ok("GET", "/api/device"))["daemons"]
        detail = {d["daemon"]: d for d in listed}["chain_client"]["detail"]
        return detail not in ("not running", "anchoring: starting")

    await wait_for(settled, what="chain-client's anchoring state")
    chain = {d["daemon"]: d for d in (await owner.ok("GET", "/api/device"))["daemons"]}
    assert chain["chain_client"]["state"] == "degraded", chain
    assert chain["chain_client"]["detail"].startswith("anchoring: anvil missing"), chain
