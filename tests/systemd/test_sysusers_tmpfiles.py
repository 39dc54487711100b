"""systemd/sysusers.d and systemd/tmpfiles.d, applied by the real tools to scratch roots."""

from __future__ import annotations

import filecmp
import os
import stat
from pathlib import Path

import pytest

from tests.systemd.conftest import install_sysusers
from tests.systemd.helpers import (
    DAEMONS,
    TMPFILES_CONF,
    TMPFILES_RDP_CONF,
    SysRoot,
    describe,
    run,
    sysusers_lines,
    tool,
)

SYSTEM_UID_MAX = 999  # Debian's SYS_UID_MAX


def test_sysusers_declares_the_daemons_and_groups() -> None:
    lines = sysusers_lines()
    assert sorted(f[1] for f in lines if f[0] == "u") == sorted(d.user for d in DAEMONS)
    assert sorted(f[1] for f in lines if f[0] == "g") == ["lucid", "lucid-spool", "lucid-store"]
    assert {f[0] for f in lines} == {"u", "g", "m"}


def check_users(root: SysRoot) -> None:
    for daemon in DAEMONS:
        uid, gid, _ = root.credentials(daemon.user)
        assert uid <= SYSTEM_UID_MAX, f"{daemon.user} is not a system user"
        assert gid == root.gid(daemon.user), f"{daemon.user}: primary group is not its own"
        assert root.shell(daemon.user).endswith("/nologin")
        assert root.member_of(daemon.user) == set(daemon.groups), daemon.user


@pytest.mark.parametrize("base", ["empty", "host"])
def test_sysusers_creates_users(tmp_path: Path, base: str) -> None:
    """On a bare root (every group new) and on a copy of this Debian base system."""
    (tmp_path / "etc").mkdir()
    if base == "host":
        for table in ("passwd", "group"):
            (tmp_path / "etc" / table).write_text((Path("/etc") / table).read_text())
    result = install_sysusers(tmp_path)
    assert result.returncode == 0 and not result.stderr, describe(result)
    check_users(SysRoot(tmp_path))


def test_sysusers_again_changes_nothing(sysroot: SysRoot, tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for table in ("passwd", "group"):
        (before / table).write_bytes((sysroot.path / "etc" / table).read_bytes())
    result = install_sysusers(sysroot.path)
    assert result.returncode == 0 and not result.stderr, describe(result)
    for table in ("passwd", "group"):
        assert filecmp.cmp(before / table, sysroot.path / "etc" / table, shallow=False)


def apply_tmpfiles(root: SysRoot) -> None:
    groups = (root.path / "etc/group").read_text().splitlines()
    if not any(line.startswith("xrdp:") for line in groups):
        pytest.fail("no group xrdp (lucid-rdp.conf names it): apt-get install xrdp")
    result = run(
        [
            tool("systemd-tmpfiles"), f"--root={root.path}", "--create",
            str(TMPFILES_CONF), str(TMPFILES_RDP_CONF),
        ],
        env={"SYSTEMD_LOG_LEVEL": "notice"},
    )  # fmt: skip
    assert result.returncode == 0 and not result.stderr, describe(result)


def test_tmpfiles_makes_the_shared_directories(sysroot: SysRoot) -> None:
    config = sysroot.path / "etc/lucid/lucid.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("")
    config.chmod(0o644)  # as an image build might leave it: tmpfiles corrects it
    apply_tmpfiles(sysroot)
    apply_tmpfiles(sysroot)  # at every boot and package upgrade: must stay quiet

    d, setgid, sticky = stat.S_IFDIR, stat.S_ISGID, stat.S_ISVTX
    expected = {  # path: mode, owner, group
        # The RDP host (lucid-rdp.conf): rendered files, xrdp's key and logs, xrdp's own paths.
        "run/lucid-rdp": (d | 0o755, "root", "root"),
        "run/lucid-rdp/config": (d | 0o755, "root", "root"),
        "run/lucid-rdp/tls": (d | 0o750, "root", "xrdp"),
        "var/log/lucid-rdp": (d | sticky | 0o770, "root", "xrdp"),
        "run/xrdp": (d | setgid | 0o775, "root", "xrdp"),
        "run/xrdp/sockdir": (d | sticky | setgid | 0o777, "root", "xrdp"),
        "run/lucid": (d | 0o750, "root", "lucid"),
        "run/lucid/spool": (d | setgid | 0o770, "root", "lucid-spool"),
        "var/lib/lucid": (d | 0o750, "root", "lucid"),
        "var/lib/lucid/store": (d | setgid | 0o750, "lucid-encryptor", "lucid-store"),
        "etc/lucid": (d | 0o750, "root", "lucid"),
        "etc/lucid/lucid.toml": (stat.S_IFREG | 0o640, "root", "lucid"),
    }
    for path, (mode, owner, group) in expected.items():
        st = os.stat(sysroot.path / path)
        assert (stat.filemode(st.st_mode), st.st_uid, st.st_gid) == (
            stat.filemode(mode),
            sysroot.uid(owner),
            sysroot.gid(group),
        ), path
