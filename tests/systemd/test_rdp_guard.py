"""systemd/nftables/lucid-rdp.nft, loaded by the real nft into a scratch network namespace.

Sockets made with the uids of xrdp, lucid-rdp-gate, root and nobody then try to serve and
dial the RDP host's loopback ports (port_probe.py): what the kernel lets through is what
the device's rules let through. The namespace's /etc/passwd and /etc/group are the scratch
root's, where the users the ruleset names exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lucid.runtime.config import RdpGateConfig
from tests.systemd.conftest import NOBODY
from tests.systemd.helpers import GUARD, NFT_RULESET, UNIT_DIR, SysRoot, parse_unit, tool

PROBE = Path(__file__).with_name("port_probe.py")
PROXY, SESMAN = RdpGateConfig().scp_port, RdpGateConfig().sesman_port
HOSTS = ("127.0.0.1", "::1")  # sesman binds ::1 when IPv6 is up (docs/rdp.md)
INSTALLED = "/usr/share/lucid/nftables/lucid-rdp.nft"


def in_namespace(sysroot: SysRoot, actions: list[dict[str, Any]]) -> list[str]:
    in_ns = (
        'm=$1; "$m" --bind "$2" /etc/passwd; "$m" --bind "$3" /etc/group; '
        '"$4" link set lo up; shift 4; exec "$@"'
    )
    argv = [
        tool("unshare"), "--net", "--mount", "--propagation", "private", "--",
        "sh", "-ec", in_ns, "sh",
        tool("mount"), str(sysroot.path / "etc/passwd"), str(sysroot.path / "etc/group"),
        tool("ip"), sys.executable, str(PROBE), json.dumps(actions),
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    outcomes: list[str] = json.loads(result.stdout)
    return outcomes


def nft(*args: str) -> dict[str, Any]:
    return {"op": "run", "argv": [tool("nft"), *args]}


def dial(host: str, port: int, server: int | None, client: int) -> dict[str, Any]:
    return {"op": "dial", "host": host, "port": port, "server": server, "client": client}


def test_ruleset_guards_the_login_ports(sysroot: SysRoot) -> None:
    xrdp, gate, root = sysroot.uid("xrdp"), sysroot.uid("lucid-rdp-gate"), 0
    cases: list[tuple[dict[str, Any], str]] = []
    for host in HOSTS:
        cases += [
            # Only xrdp dials rdp_gate's proxy, only rdp_gate dials sesman.
            (dial(host, PROXY, gate, xrdp), "ok"),
            (dial(host, PROXY, gate, NOBODY), "refused"),
            (dial(host, PROXY, gate, root), "refused"),
            (dial(host, SESMAN, root, gate), "ok"),
            (dial(host, SESMAN, root, NOBODY), "refused"),
            (dial(host, SESMAN, root, xrdp), "refused"),
            (dial(host, SESMAN, root, root), "refused"),
            # A port squatted while its daemon is down never completes a handshake: no login,
            # no password, reaches it.
            (dial(host, PROXY, NOBODY, xrdp), "timeout"),
            (dial(host, PROXY, root, xrdp), "timeout"),
            (dial(host, SESMAN, NOBODY, gate), "timeout"),
            (dial(host, SESMAN, gate, gate), "timeout"),
            # Other ports are none of its business.
            (dial(host, SESMAN + 1, NOBODY, NOBODY), "ok"),
        ]
    before = [dial(HOSTS[0], SESMAN, NOBODY, NOBODY)]
    # Loaded twice, as at every start of the guard: the file replaces its own table.
    load = [nft("-f", str(NFT_RULESET)), nft("-f", str(NFT_RULESET))]
    after = [nft("delete", "table", "inet", "lucid_rdp"), dial(HOSTS[0], SESMAN, NOBODY, NOBODY)]
    actions = [*before, *load, *(action for action, _ in cases), *after]

    outcomes = in_namespace(sysroot, actions)

    assert outcomes[:3] == ["ok", "ok", "ok"], outcomes[:3]
    got = outcomes[3 : 3 + len(cases)]
    wrong = [(case, want, out) for (case, want), out in zip(cases, got, strict=True) if out != want]
    assert not wrong, wrong
    assert outcomes[-2:] == ["ok", "ok"], "the unit's ExecStop removes it all"


def test_ruleset_needs_its_users(sysroot: SysRoot, tmp_path: Path) -> None:
    """A user name it cannot resolve fails the load, so the units that require it fail."""
    renamed = tmp_path / "lucid-rdp.nft"
    renamed.write_text(NFT_RULESET.read_text().replace('"lucid-rdp-gate"', '"lucid-no-such"'))
    (outcome,) = in_namespace(sysroot, [nft("-f", str(renamed))])
    assert "User does not exist" in outcome


def test_ruleset_matches_config_and_unit() -> None:
    """The ports are lucid.toml's defaults; the unit loads the file and removes its table."""
    text = NFT_RULESET.read_text()
    assert set(map(int, re.findall(r"[sd]port (\d+)", text))) == {PROXY, SESMAN}
    service = parse_unit(UNIT_DIR / GUARD.unit)["Service"]
    assert service["ExecStart"] == [f"/usr/sbin/nft -f {INSTALLED}"]
    (table,) = re.findall(r"^table (inet \w+) \{", text, re.MULTILINE)
    assert service["ExecStop"] == [f"-/usr/sbin/nft delete table {table}"]


@pytest.fixture(autouse=True)
def _tools() -> None:
    for name in ("nft", "ip", "unshare", "mount"):
        tool(name)
