"""``python -m lucid.rdp_gate.render``: the device's xrdp + sesman files, from lucid.toml."""

from __future__ import annotations

import configparser
import dataclasses
import grp
import os
import stat
from pathlib import Path

import pytest

from lucid.rdp_gate import render
from lucid.rdp_gate.tls import DeviceCertificate, ensure_certificate
from lucid.rdp_gate.xrdp import XrdpError
from lucid.runtime.config import Config, PathsConfig, RdpGateConfig

REPO_RDP = Path(__file__).resolve().parents[2] / "rdp"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def certificate(state: Path) -> DeviceCertificate:
    # What rdp_gate makes at its first start (daemon.build).
    return ensure_certificate(state / "rdp_gate" / "tls", "lucid-test")


@pytest.fixture
def paths(tmp_path: Path) -> render.DevicePaths:
    # Our own group stands in for xrdp's: chown to it needs no privilege.
    group = grp.getgrgid(os.getgid()).gr_name
    return render.DevicePaths(tmp_path / "run", tmp_path / "log", group, "0.0.0.0")


def config(
    state: Path, scp_port: int = 3350, sesman_port: int = 3351, rdp_port: int = 3389
) -> Config:
    ports = RdpGateConfig(scp_port=scp_port, sesman_port=sesman_port, rdp_port=rdp_port)
    return dataclasses.replace(Config(), paths=PathsConfig(state_dir=state), rdp_gate=ports)


def sesman_ini(tmp_path: Path, port: int = 3350) -> Path:
    """The Debian package's /etc/xrdp/sesman.ini as far as xrdp reads it for sesman."""
    path = tmp_path / "etc-sesman.ini"
    path.write_text(f"[Globals]\nListenAddress=127.0.0.1\nListenPort={port}\n")
    return path


def settings(path: Path, section: str = "Globals") -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the keys' case
    parser.read_string(path.read_text())
    return dict(parser[section])


def test_renders_the_device_configuration(
    tmp_path: Path, state: Path, certificate: DeviceCertificate, paths: render.DevicePaths
) -> None:
    cfg = config(state, rdp_port=3390, sesman_port=3352)
    config_dir = render.render_device(
        cfg, paths, source=REPO_RDP, xrdp_sesman_ini=sesman_ini(tmp_path)
    )

    assert config_dir == paths.run_dir / "config"
    xrdp = settings(config_dir / "xrdp.ini")
    assert xrdp["port"] == "tcp://0.0.0.0:3390"
    assert xrdp["certificate"] == str(paths.tls_dir / "cert.pem")
    assert xrdp["key_file"] == str(paths.tls_dir / "key.pem")
    logging = settings(config_dir / "xrdp.ini", "Logging")
    assert logging["LogFile"] == str(paths.log_dir / "xrdp.log")
    assert logging["EnableSyslog"] == "true"
    sesman = settings(config_dir / "sesman.ini")
    assert sesman["ListenAddress"] == "127.0.0.1"
    assert sesman["ListenPort"] == "3352"
    assert sesman["DefaultWindowManager"] == str(config_dir / "startwm.sh")
    assert settings(config_dir / "sesman.ini", "Logging")["LogFile"] == str(
        paths.log_dir / "sesman.log"
    )
    env = (config_dir / "session.env").read_text()
    assert "LUCID_BUS=''" in env  # the system bus

    # Session users run the start script and read what it reads; xrdp reads the key by group.
    gid = os.getgid()
    expected = {
        config_dir: (stat.S_IFDIR | 0o755, None),
        config_dir / "startwm.sh": (stat.S_IFREG | 0o755, None),
        config_dir / "session.env": (stat.S_IFREG | 0o644, None),
        config_dir / "sesman.ini": (stat.S_IFREG | 0o644, None),
        paths.tls_dir: (stat.S_IFDIR | 0o750, gid),
        paths.tls_dir / "key.pem": (stat.S_IFREG | 0o640, gid),
        paths.tls_dir / "cert.pem": (stat.S_IFREG | 0o644, gid),
    }
    for path, (mode, group) in expected.items():
        st = os.stat(path)
        assert stat.filemode(st.st_mode) == stat.filemode(mode), path
        assert group is None or st.st_gid == group, path
    assert (paths.tls_dir / "key.pem").read_bytes() == certificate.key.read_bytes()
    assert (paths.tls_dir / "cert.pem").read_bytes() == certificate.cert.read_bytes()
    assert not list(paths.tls_dir.glob(".*"))  # no temporary file left behind


def test_rendering_again_gives_the_same_files(
    tmp_path: Path, state: Path, certificate: DeviceCertificate, paths: render.DevicePaths
) -> None:
    """ExecStartPre runs at every start of sesman."""
    ini = sesman_ini(tmp_path)
    render.render_device(config(state), paths, source=REPO_RDP, xrdp_sesman_ini=ini)
    first = {p: p.read_bytes() for p in paths.run_dir.rglob("*") if p.is_file()}
    render.render_device(config(state), paths, source=REPO_RDP, xrdp_sesman_ini=ini)
    assert {p: p.read_bytes() for p in paths.run_dir.rglob("*") if p.is_file()} == first


@pytest.mark.parametrize(
    ("dial", "ports"),
    [
        (3351, {}),  # xrdp would dial sesman itself: the alternate shell bypasses the gate
        (3350, {"scp_port": 3360}),  # xrdp would dial nothing rdp_gate listens on
        (3350, {"sesman_port": 3350}),  # sesman and the proxy on one port
    ],
)
def test_refuses_when_xrdp_would_not_dial_the_proxy(
    tmp_path: Path,
    state: Path,
    certificate: DeviceCertificate,
    paths: render.DevicePaths,
    dial: int,
    ports: dict[str, int],
) -> None:
    with pytest.raises(XrdpError, match="dials port"):
        render.render_device(
            config(state, **ports),
            paths,
            source=REPO_RDP,
            xrdp_sesman_ini=sesman_ini(tmp_path, dial),
        )
    assert not paths.run_dir.exists()


def test_refuses_without_rdp_gates_certificate(
    tmp_path: Path, state: Path, paths: render.DevicePaths
) -> None:
    with pytest.raises(XrdpError, match=r"lucid-rdp-gate\.service"):
        render.render_device(
            config(state), paths, source=REPO_RDP, xrdp_sesman_ini=sesman_ini(tmp_path)
        )
    assert not (paths.config_dir / "xrdp.ini").exists()


def test_refuses_without_the_xrdp_group(
    tmp_path: Path, state: Path, certificate: DeviceCertificate, paths: render.DevicePaths
) -> None:
    no_group = dataclasses.replace(paths, xrdp_group="lucid-no-such-group")
    with pytest.raises(XrdpError, match="apt-get install xrdp"):
        render.render_device(
            config(state), no_group, source=REPO_RDP, xrdp_sesman_ini=sesman_ini(tmp_path)
        )


def test_command_line(
    tmp_path: Path,
    state: Path,
    certificate: DeviceCertificate,
    paths: render.DevicePaths,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Configuration from lucid.toml (here: overrides); /etc/xrdp/sesman.ini as installed
    (3350, or the same default when xrdp is not installed)."""
    monkeypatch.delenv("LUCID_CONFIG", raising=False)
    monkeypatch.setenv("LUCID_CONFIG", str(tmp_path / "lucid.toml"))
    (tmp_path / "lucid.toml").write_text(f'[paths]\nstate_dir = "{state}"\n')
    argv = [
        f"--run-dir={paths.run_dir}",
        f"--log-dir={paths.log_dir}",
        f"--xrdp-group={paths.xrdp_group}",
        f"--source={REPO_RDP}",
        "--address=127.0.0.1",
    ]
    assert render.main(argv) == 0, capsys.readouterr().err
    assert settings(paths.config_dir / "xrdp.ini")["port"] == "tcp://127.0.0.1:3389"

    # A failure is one line on stderr and status 1 (systemd then retries the unit).
    (tmp_path / "lucid.toml").write_text(f'[paths]\nstate_dir = "{tmp_path / "empty"}"\n')
    capsys.readouterr()
    assert render.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("lucid.rdp_gate.render: no RDP certificate") and err.count("\n") == 1
