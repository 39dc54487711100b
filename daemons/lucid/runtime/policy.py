"""D-Bus policies made from the contracts: the device's files and ``lucid up``'s private bus.

Both come from the same facts — the interface XML's ``io.lucid.Callers`` per method
(lucid.runtime.contracts) — so the bus a developer runs has the device's rules:

- only a daemon's own user may own its name (on the device ``lucid-<daemon>``; under
  ``lucid up`` the appliance's user, who runs every daemon), so a name whose daemon is not
  running stays unownable instead of free;
- the Lucid daemons (group ``lucid``; under ``lucid up`` the appliance user) may call every
  method of the interface and the standard ones; each method then checks its caller itself;
- root may introspect, ping, and call the methods open to ``operator`` (the console);
- everyone else may call only the methods open to ``anyone``, naming the interface, and
  receives none of the daemons' signals.

``python -m lucid.runtime.policy DIR`` writes the device's files into ``DIR``
(``systemd/dbus-1/system.d``); a test holds the committed files to this output. This module
writes text; it starts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lucid.runtime.contracts import ALL, ANYONE, OPERATOR, Contract
from lucid.runtime.principals import daemon_user

INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PROPERTIES = "org.freedesktop.DBus.Properties"
PEER = "org.freedesktop.DBus.Peer"
DOCTYPE = (
    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"\n'
    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
)
#: File descriptors a message may carry (OpenStream and ExportBundle pass one).
MAX_FDS = 64
#: Connections one user may hold on ``lucid up``'s bus (a session user cannot exhaust it).
MAX_CONNECTIONS_PER_USER = 256


def methods_for(contract: Contract, caller: str) -> list[str]:
    """The contract's methods whose callers include ``caller``, in XML order."""
    return [m.name for m in contract.methods.values() if caller in m.callers]


def _allow(**attrs: str) -> str:
    text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<allow {text}/>"


def _deny(**attrs: str) -> str:
    text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<deny {text}/>"


def _sends(name: str, interfaces: list[str]) -> list[str]:
    return [_allow(send_destination=name, send_interface=i) for i in interfaces]


def _members(name: str, members: list[str]) -> list[str]:
    return [_allow(send_destination=name, send_interface=name, send_member=m) for m in members]


def _signals(name: str) -> str:
    """The daemon's signals (session ids, states, reasons): for the Lucid daemons and root."""
    return _allow(receive_sender=name, receive_type="signal")


def _no_signals(name: str) -> str:
    return _deny(receive_sender=name, receive_type="signal")


def _policy(selector: str, rules: list[str]) -> str:
    body = "".join(f"    {rule}\n" for rule in rules)
    return f"  <policy {selector}>\n{body}  </policy>\n"


def device_policy(contract: Contract) -> str:
    """The device's ``/usr/share/dbus-1/system.d/<name>.conf`` for ``contract``."""
    name = contract.bus_name
    user = daemon_user(contract.daemon)
    operator = methods_for(contract, OPERATOR)
    anyone = methods_for(contract, ANYONE)
    return (
        '<?xml version="1.0"?> <!--*-nxml-*-->\n'
        f"{DOCTYPE}\n\n"
        "<!--\n"
        f"  Bus policy of {user}: the name {name}, object {contract.path}.\n"
        f"  Installed as /usr/share/dbus-1/system.d/{name}.conf; see systemd/README.md.\n"
        "  Generated from the interface XML's io.lucid.Callers by\n"
        "  `python -m lucid.runtime.policy systemd/dbus-1/system.d`: edit the XML, not this.\n\n"
        "  Only the daemon's own user may own the name. Members of group lucid (the Lucid\n"
        "  daemons) may call its interface and the standard ones; root may introspect and\n"
        "  ping it, and call the methods the contract opens to the console (operator).\n"
        "  Everyone else may call only the methods open to anyone, and receives none of its\n"
        "  signals (session ids, states, reasons). Each method then checks\n"
        "  its caller's unix user itself (lucid.runtime.principals); a call that names no\n"
        "  interface is refused. Who calls each method, and why: the interface XML,\n"
        f"  daemons/lucid/interfaces/{name}.xml.\n"
        "-->\n\n"
        "<busconfig>\n\n"
        + _policy(f"user={quoteattr(user)}", [_allow(own=name)])
        + "\n"
        + _policy(
            'group="lucid"',
            [*_sends(name, [name, INTROSPECTABLE, PROPERTIES, PEER]), _signals(name)],
        )
        + "\n"
        + _policy(
            'user="root"',
            [*_sends(name, [INTROSPECTABLE, PEER]), *_members(name, operator), _signals(name)],
        )
        + "\n"
        + _policy(
            'context="default"',
            [
                _deny(own=name),
                _deny(send_destination=name),
                _no_signals(name),
                *_members(name, anyone),
            ],
        )
        + "\n</busconfig>\n"
    )


def appliance_bus_config(socket: Path, user: str, *, session_users: bool) -> str:
    """``lucid up``'s private bus: the device's rules with every daemon running as ``user``.

    Args:
        socket: where the bus listens.
        user: the appliance's unix user (who runs ``lucid up`` and so every daemon).
        session_users: let any local user connect (the RDP host: a session's start script
            calls rdp_gate's Wait and End); otherwise only ``user`` and root may connect.
    """
    connect = [_allow(user="*")] if session_users else [_allow(user=user), _allow(user="root")]
    # The system bus's defaults (Debian's system.conf): nothing may own or call until a rule
    # says so; replies to calls one made, and the bus driver itself, stay reachable.
    default = [
        *connect,
        _deny(own="*"),
        _deny(send_type="method_call"),
        _deny(send_type="signal"),
        _allow(send_requested_reply="true", send_type="method_return"),
        _allow(send_requested_reply="true", send_type="error"),
        _allow(receive_type="method_call"),
        _allow(receive_type="method_return"),
        _allow(receive_type="error"),
        _allow(receive_type="signal"),
        _allow(send_destination="org.freedesktop.DBus", send_interface="org.freedesktop.DBus"),
        *_sends("org.freedesktop.DBus", [INTROSPECTABLE, PEER]),
    ]
    appliance: list[str] = [_allow(send_type="signal")]
    root: list[str] = []
    for contract in ALL:
        name = contract.bus_name
        default += [_deny(own=name), _deny(send_destination=name), _no_signals(name)]
        default += _members(name, methods_for(contract, ANYONE))
        appliance += [_allow(own=name), *_sends(name, [name, INTROSPECTABLE, PROPERTIES, PEER])]
        appliance.append(_signals(name))
        root += [
            *_sends(name, [INTROSPECTABLE, PEER]),
            *_members(name, methods_for(contract, OPERATOR)),
            _signals(name),
        ]
    # The appliance user's own processes (the CLI) are also reached by replies: that is
    # what send_requested_reply above gives. Later <policy> elements win over earlier ones.
    return (
        f"{DOCTYPE}\n<busconfig>\n"
        "  <type>lucid</type>\n"
        f"  <listen>unix:path={socket}</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        + _policy('context="default"', default)
        + _policy(f"user={quoteattr('root')}", root)
        + _policy(f"user={quoteattr(user)}", appliance)
        + f'  <limit name="max_incoming_unix_fds">{MAX_FDS}</limit>\n'
        + f'  <limit name="max_connections_per_user">{MAX_CONNECTIONS_PER_USER}</limit>\n'
        + "</busconfig>\n"
    )


def write_device_policies(directory: Path) -> list[Path]:
    """Write every contract's device policy into ``directory``; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for contract in ALL:
        path = directory / f"{contract.bus_name}.conf"
        path.write_text(device_policy(contract))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m lucid.runtime.policy DIR", file=sys.stderr)
        return 2
    for path in write_device_policies(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
