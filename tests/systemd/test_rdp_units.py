"""The RDP host's units beside rdp_gate: xrdp, sesman and the port guard (docs/rdp.md).

They run what ``lucid.rdp_gate.xrdp`` runs, on the files ``lucid.rdp_gate.render`` writes
(the paths are checked against that module), in the order logins flow, and each as tightly
as its job allows: xrdp in the template's sandbox, the guard with one capability, sesman
with only what every session it starts can bear (systemd/README.md, "The RDP host").
"""

from __future__ import annotations

from lucid.rdp_gate.render import DEVICE
from tests.systemd.helpers import (
    DAEMONS,
    GUARD,
    HOST_UNITS,
    LAN_WEB_PAGE,
    SESMAN,
    TARGET,
    TMPFILES_RDP_CONF,
    UNIT_DIR,
    VENV_PYTHON,
    XRDP,
    parse_unit,
)
from tests.systemd.test_units import HARDENING

GATE = next(d.unit for d in DAEMONS if d.name == "rdp_gate")
DEBIAN_UNITS = {"xrdp.service", "xrdp-sesman.service"}
# What sesman must not have: every session it starts would have it too (the user's desktop
# without network, sudo, a browser sandbox, a JIT, its own /tmp or devices).
SESSION_BREAKERS = {
    "User", "DynamicUser", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
    "DevicePolicy", "DeviceAllow", "PrivateNetwork", "PrivateUsers", "NoNewPrivileges",
    "MemoryDenyWriteExecute", "RestrictNamespaces", "RestrictAddressFamilies",
    "IPAddressDeny", "IPAddressAllow", "SocketBindDeny", "ProtectClock", "ProtectHostname",
    "RestrictSUIDSGID", "LockPersonality", "RestrictRealtime", "ProtectProc", "ProcSubset",
}  # fmt: skip


def words(section: dict[str, list[str]], key: str) -> set[str]:
    return set(" ".join(section.get(key, [])).split())


def test_xrdp_runs_in_the_template_sandbox() -> None:
    service = parse_unit(UNIT_DIR / XRDP.unit)["Service"]
    assert service["ExecStart"] == [f"/usr/sbin/xrdp -n -c {DEVICE.config_dir / 'xrdp.ini'}"]
    assert service["User"] == service["Group"] == [DEVICE.xrdp_group]
    for key, value in HARDENING.items():
        expected = list(LAN_WEB_PAGE.get(key, (value,)))
        assert service[key] == expected, key
    assert service["IPAddressAllow"] == list(LAN_WEB_PAGE["IPAddressAllow"])
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert service["ReadWritePaths"] == [f"{DEVICE.log_dir} /run/xrdp"]


def test_sesman_runs_the_render_step_and_sesman_unconfined() -> None:
    service = parse_unit(UNIT_DIR / SESMAN.unit)["Service"]
    assert service["ExecStartPre"] == [f"{VENV_PYTHON} -m lucid.rdp_gate.render"]
    assert service["ExecStart"] == [
        f"/usr/sbin/xrdp-sesman -n -c {DEVICE.config_dir / 'sesman.ini'}"
    ]
    assert not SESSION_BREAKERS & set(service), SESSION_BREAKERS & set(service)
    # What it does restrict is host administration, never a desktop's needs.
    assert words(service, "CapabilityBoundingSet") == {
        "~CAP_SYS_TIME", "CAP_WAKE_ALARM", "CAP_SYS_BOOT", "CAP_SYS_RAWIO",
    }  # fmt: skip
    assert service["SystemCallFilter"] == ["~@clock @raw-io @reboot @swap"]
    assert service["LimitCORE"] == ["0"]  # it holds passwords


def test_guard_holds_one_capability() -> None:
    service = parse_unit(UNIT_DIR / GUARD.unit)["Service"]
    assert service["Type"] == ["oneshot"] and service["RemainAfterExit"] == ["yes"]
    assert service["DynamicUser"] == ["yes"]
    assert service["CapabilityBoundingSet"] == service["AmbientCapabilities"] == ["CAP_NET_ADMIN"]
    assert service["PrivateNetwork"] == ["no"]  # the rules are for the host's namespace
    for key, value in HARDENING.items():
        if key not in {"PrivateNetwork", "RestrictAddressFamilies", "CapabilityBoundingSet",
                       "AmbientCapabilities"}:  # fmt: skip
            assert service[key] == [value], key


def test_order_follows_the_logins() -> None:
    """xrdp -> rdp_gate -> sesman; the guard before the two that rely on it."""
    xrdp = parse_unit(UNIT_DIR / XRDP.unit)["Unit"]
    sesman = parse_unit(UNIT_DIR / SESMAN.unit)["Unit"]
    guard = parse_unit(UNIT_DIR / GUARD.unit)["Unit"]
    # xrdp comes up last and goes down (or restarts) with any of the three.
    assert words(xrdp, "Requires") == {SESMAN.unit, GATE, GUARD.unit}
    assert {SESMAN.unit, GATE, GUARD.unit} <= words(xrdp, "After")
    # sesman needs the guard, and rdp_gate's certificate; restarting rdp_gate spares it.
    assert words(sesman, "Requires") == {GUARD.unit}
    assert words(sesman, "Wants") == {GATE}
    assert {GUARD.unit, GATE} <= words(sesman, "After")
    # The guard is loaded before any user can log in (and bind a port first).
    assert "systemd-user-sessions.service" in words(guard, "Before")
    for unit in HOST_UNITS:
        head = parse_unit(UNIT_DIR / unit.unit)["Unit"]
        assert head["PartOf"] == [TARGET], unit.unit
        assert "Install" not in parse_unit(UNIT_DIR / unit.unit), "lucid.target pulls it in"
    # Debian's own units would take 3389 and 3350.
    for head in (xrdp, sesman):
        assert words(head, "Conflicts") >= DEBIAN_UNITS


def test_tmpfiles_makes_what_render_and_xrdp_write() -> None:
    lines = [
        line.split()
        for line in TMPFILES_RDP_CONF.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    made = {fields[1]: tuple(fields[2:5]) for fields in lines if fields[0] == "d"}
    group = DEVICE.xrdp_group
    assert made == {
        str(DEVICE.run_dir): ("0755", "root", "root"),
        str(DEVICE.config_dir): ("0755", "root", "root"),
        str(DEVICE.tls_dir): ("0750", "root", group),
        str(DEVICE.log_dir): ("1770", "root", group),
        "/run/xrdp": ("2775", "root", group),
        "/run/xrdp/sockdir": ("3777", "root", group),
    }
