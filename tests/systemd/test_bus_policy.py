"""The D-Bus policies in systemd/dbus-1/system.d: their shape, and a real bus enforcing them."""

from __future__ import annotations

import contextlib
import json
import select
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lucid.runtime.contracts import ANYONE, OPERATOR, by_daemon
from lucid.runtime.policy import device_policy, methods_for
from tests.systemd.conftest import NOBODY, PolicyBus, read_address, start_policy_bus
from tests.systemd.helpers import DAEMONS, POLICY_DIR, Credentials, Daemon, SysRoot

PROBE = Path(__file__).with_name("bus_probe.py")
INTERFACES = Path(__file__).resolve().parents[2] / "daemons/lucid/interfaces"
PROBE_TIMEOUT = 60.0  # seconds

DOCTYPE = (
    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"\n'
    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
)
# Attributes dbus-daemon(1) documents for <policy> and for <allow>/<deny>.
POLICY_ATTRIBUTES = {"context", "user", "group", "at_console"}
RULE_ATTRIBUTES = {
    "send_interface", "send_member", "send_error", "send_broadcast", "send_destination",
    "send_destination_prefix", "send_type", "send_path", "send_requested_reply",
    "receive_interface", "receive_member", "receive_error", "receive_sender", "receive_type",
    "receive_path", "receive_requested_reply", "eavesdrop", "own", "own_prefix", "user", "group",
    "max_fds", "min_fds",
}  # fmt: skip
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PROPERTIES = "org.freedesktop.DBus.Properties"
PEER = "org.freedesktop.DBus.Peer"
Action = dict[str, Any]  # one operation of bus_probe.py


def policy_path(daemon: Daemon) -> Path:
    return POLICY_DIR / f"{daemon.bus_name}.conf"


def allowed(policy: ET.Element) -> list[dict[str, str]]:
    return [dict(rule.attrib) for rule in policy if rule.tag == "allow"]


def test_one_policy_per_daemon() -> None:
    assert sorted(p.name for p in POLICY_DIR.iterdir()) == sorted(
        policy_path(d).name for d in DAEMONS
    )


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_policy_follows_the_dtd(daemon: Daemon) -> None:
    text = policy_path(daemon).read_text()
    assert DOCTYPE in text
    root = ET.fromstring(text)
    assert root.tag == "busconfig"
    for policy in root:
        assert policy.tag == "policy"
        assert set(policy.attrib) <= POLICY_ATTRIBUTES
        assert len(policy.attrib) == 1, f"one selector per <policy>: {policy.attrib}"
        assert policy.get("context") in (None, "default", "mandatory")
        for rule in policy:
            assert rule.tag in ("allow", "deny")
            assert rule.attrib, "a rule without attributes"
            assert set(rule.attrib) <= RULE_ATTRIBUTES, rule.attrib


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_policy_grants(daemon: Daemon) -> None:
    name = daemon.bus_name
    policies = {
        (key, value): policy
        for policy in ET.parse(policy_path(daemon)).getroot()
        for key, value in policy.attrib.items()
    }
    assert set(policies) == {
        ("user", daemon.user),
        ("group", "lucid"),
        ("user", "root"),
        ("context", "default"),
    }
    # Only the daemon's own user owns the name, and that is all it is granted here.
    assert allowed(policies["user", daemon.user]) == [{"own": name}]
    # The Lucid daemons call its interface and the standard ones; root looks, and calls
    # only the methods the contract opens to the console (operator).
    standard = [INTROSPECTABLE, PROPERTIES, PEER]
    signals = {"receive_sender": name, "receive_type": "signal"}
    assert allowed(policies["group", "lucid"]) == [
        {"send_destination": name, "send_interface": iface} for iface in [name, *standard]
    ] + [signals]
    assert allowed(policies["user", "root"]) == [
        {"send_destination": name, "send_interface": iface} for iface in [INTROSPECTABLE, PEER]
    ] + [
        {"send_destination": name, "send_interface": name, "send_member": member}
        for member in methods_for(by_daemon(daemon.name), OPERATOR)
    ] + [signals]
    # Everyone else: nothing, but the daemon's public methods (after the denials: in a
    # context, later rules win), each named with its interface.
    default = policies["context", "default"]
    assert [(rule.tag, dict(rule.attrib)) for rule in default] == [
        ("deny", {"own": name}),
        ("deny", {"send_destination": name}),
        ("deny", {"receive_sender": name, "receive_type": "signal"}),
        *(
            ("allow", {"send_destination": name, "send_interface": name, "send_member": member})
            for member in daemon.public_methods
        ),
    ]


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_policy_is_generated_from_the_contract(daemon: Daemon) -> None:
    """The committed file is what lucid.runtime.policy makes of the interface XML (run
    `python -m lucid.runtime.policy systemd/dbus-1/system.d` after changing a contract)."""
    assert policy_path(daemon).read_text() == device_policy(by_daemon(daemon.name))


def test_public_methods_are_the_contracts_anyone_methods() -> None:
    for daemon in DAEMONS:
        assert list(daemon.public_methods) == methods_for(by_daemon(daemon.name), ANYONE)


def test_no_policy_grants_another_daemons_name() -> None:
    for daemon in DAEMONS:
        for rule in ET.parse(policy_path(daemon)).getroot().iter("allow"):
            assert "own_prefix" not in rule.attrib
            assert rule.get("send_destination", daemon.bus_name) == daemon.bus_name
            assert rule.get("own", daemon.bus_name) == daemon.bus_name


# --- a real dbus-daemon ------------------------------------------------------------------------


def test_bus_loads_policies_without_warnings(policy_bus: PolicyBus) -> None:
    # dbus-daemon reads system.d/ at start and reports, then ignores, a file it cannot parse
    # and a user or group it cannot resolve. The bus still starts: only stderr tells.
    assert policy_bus.stderr.read_text() == ""


def test_bus_reports_a_malformed_policy(sysroot: SysRoot, tmp_path: Path) -> None:
    """The harness notices a broken file: the check above would see this on stderr."""
    broken = tmp_path / "system.d"
    shutil.copytree(POLICY_DIR, broken)
    conf = broken / f"{DAEMONS[0].bus_name}.conf"
    conf.write_text(conf.read_text().replace("<allow own=", "<allow owner=", 1))
    workdir = Path(tempfile.mkdtemp(prefix="lucid-bus-"))
    try:
        proc = start_policy_bus(sysroot, broken, workdir)
        try:
            read_address(proc, workdir / "stderr")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        stderr = (workdir / "stderr").read_text()
        assert 'Attribute "owner" is invalid' in stderr
        assert conf.name in stderr
    finally:
        shutil.rmtree(workdir)


def probe_argv(bus: PolicyBus, creds: Credentials, actions: list[Action]) -> list[str]:
    uid, gid, groups = creds
    groups_arg = ",".join(map(str, groups))
    return [
        sys.executable,
        str(PROBE),
        bus.address,
        str(uid),
        str(gid),
        groups_arg,
        json.dumps(actions),
    ]


def run_probe(bus: PolicyBus, creds: Credentials, actions: list[Action]) -> list[str]:
    """Outcomes of ``actions`` done by a fresh connection with ``creds``."""
    result = subprocess.run(
        probe_argv(bus, creds, actions),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcomes: list[str] = json.loads(result.stdout)
    return outcomes


@contextlib.contextmanager
def owning(bus: PolicyBus, creds: Credentials, name: str) -> Iterator[str]:
    """A connection with ``creds`` that asks for ``name`` and keeps what it got; yields the outcome."""
    argv = [*probe_argv(bus, creds, [{"op": "own", "name": name}]), "--hold"]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], PROBE_TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        if not line:
            proc.kill()
            pytest.fail(f"the owning probe said nothing: {proc.communicate()[1]}")
        (outcome,) = json.loads(line)
        yield str(outcome)
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=PROBE_TIMEOUT)


def caller_actions(daemon: Daemon) -> list[Action]:
    def call(interface: str | None, member: str, signature: str = "", *body: str) -> Action:
        return {
            "op": "call",
            "destination": daemon.bus_name,
            "path": daemon.object_path,
            "interface": interface,
            "member": member,
            "signature": signature,
            "body": list(body),
        }

    return [
        call(daemon.bus_name, "NoSuchMethod"),
        call(INTROSPECTABLE, "Introspect"),
        call(PEER, "Ping"),
        call(PROPERTIES, "GetAll", "s", daemon.bus_name),
        call(None, "Ping"),  # the interface field is optional in a method call
        {"op": "own", "name": daemon.bus_name},
    ]


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_bus_enforces_policy(policy_bus: PolicyBus, sysroot: SysRoot, daemon: Daemon) -> None:
    """Who may own the name and who may call what, as the real dbus-daemon decides it.

    The owner is a real connection with the daemon's uid and groups; an answer from it
    (a return, UnknownMethod, UnknownObject) means the bus let the call through.
    """
    with owning(policy_bus, sysroot.credentials(daemon.user), daemon.bus_name) as outcome:
        assert outcome == "ok", f"{daemon.user} may not own {daemon.bus_name}"

        peer = next(d for d in DAEMONS if d is not daemon)
        actions = caller_actions(daemon)
        denied = "org.freedesktop.DBus.Error.AccessDenied"
        unknown_method = "org.freedesktop.DBus.Error.UnknownMethod"
        unknown_object = "org.freedesktop.DBus.Error.UnknownObject"
        as_peer = [unknown_method, "ok", "ok", unknown_object, denied, denied]
        as_root = [denied, "ok", "ok", denied, denied, denied]
        as_nobody = [denied] * len(actions)
        assert run_probe(policy_bus, sysroot.credentials(peer.user), actions) == as_peer, peer.user
        assert run_probe(policy_bus, (0, 0, []), actions) == as_root, "root"
        assert run_probe(policy_bus, (NOBODY, NOBODY, []), actions) == as_nobody, "nobody"


PUBLIC = [d for d in DAEMONS if d.public_methods]
# Any local user: Debian's "daemon" (the system bus refuses a uid it cannot look up).
STRANGER = "daemon"


@pytest.mark.parametrize("daemon", PUBLIC, ids=lambda d: d.name)
def test_bus_lets_any_user_call_the_public_methods_only(
    policy_bus: PolicyBus, sysroot: SysRoot, daemon: Daemon
) -> None:
    """rdp_gate's Wait and End: any local user (a session's start script), nothing else."""
    others = sorted(
        m.get("name")
        for m in ET.parse(INTERFACES / f"{daemon.bus_name}.xml").iter("method")
        if m.get("name") not in daemon.public_methods
    )
    assert others, "the interface has methods beyond the public ones"

    def call(interface: str | None, member: str) -> Action:
        return {
            "op": "call",
            "destination": daemon.bus_name,
            "path": daemon.object_path,
            "interface": interface,
            "member": member,
        }

    public = [call(daemon.bus_name, m) for m in daemon.public_methods]
    private = [call(daemon.bus_name, m) for m in others]
    unnamed = [call(None, m) for m in daemon.public_methods]  # the rule names the interface
    standard = [call(INTROSPECTABLE, "Introspect"), call(PEER, "Ping")]
    actions = [*public, *private, *unnamed, *standard, {"op": "own", "name": daemon.bus_name}]
    denied = "org.freedesktop.DBus.Error.AccessDenied"
    # The owner here is a bare connection: an UnknownMethod from it means the bus let the call
    # through to the daemon.
    reached = "org.freedesktop.DBus.Error.UnknownMethod"
    as_anyone = [reached] * len(public) + [denied] * (len(actions) - len(public))
    peer = next(d for d in DAEMONS if d is not daemon)
    as_lucid = [reached] * (len(public) + len(private)) + [denied] * len(unnamed)
    as_lucid += ["ok", "ok", denied]
    stranger = sysroot.credentials(STRANGER)
    with owning(policy_bus, sysroot.credentials(daemon.user), daemon.bus_name) as outcome:
        assert outcome == "ok"
        assert run_probe(policy_bus, stranger, actions) == as_anyone, STRANGER
        assert run_probe(policy_bus, (NOBODY, NOBODY, []), actions) == as_anyone, "nobody"
        assert run_probe(policy_bus, sysroot.credentials(peer.user), actions) == as_lucid
    # Nobody else owns the name even while the daemon is away.
    assert run_probe(policy_bus, stranger, [actions[-1]]) == [denied]
