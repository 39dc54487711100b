"""``python -m lucid.rdp_gate.render``: write the device's xrdp and sesman configuration.

``lucid-xrdp-sesman.service`` runs it as root (``ExecStartPre=``) before sesman starts, after
``lucid-rdp-gate.service``; ``lucid-xrdp.service`` starts after both (systemd/README.md). It:

- renders ``rdp/`` (installed at ``/usr/share/lucid/rdp``, see `xrdp.config_source`) with
  `lucid.rdp_gate.xrdp.render` into ``/run/lucid-rdp/config``: the ports of ``[rdp_gate]``
  and the bus of ``[bus]`` in ``lucid.toml``, syslog on, logs in ``/var/log/lucid-rdp``;
- copies rdp_gate's certificate (``<state_dir>/rdp_gate/tls``, made at rdp_gate's first
  start) to ``/run/lucid-rdp/tls``, the key ``root:xrdp 0640``: xrdp runs as ``xrdp`` and
  rdp_gate's state directory is ``0700``;
- refuses a configuration in which xrdp would not dial rdp_gate's login proxy: xrdp 0.9
  dials the ``ListenPort`` of ``/etc/xrdp/sesman.ini``, which must be ``[rdp_gate]
  scp_port`` and not ``sesman_port`` (else the client's alternate shell reaches sesman).

It starts nothing, makes no certificate, and does not create ``/run/xrdp`` (tmpfiles does).
Exit status 0, or 1 with one line on stderr that says what to fix.
"""

from __future__ import annotations

import argparse
import grp
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lucid.rdp_gate.tls import DeviceCertificate
from lucid.rdp_gate.xrdp import (
    XRDP_ETC_SESMAN,
    XrdpError,
    XrdpSettings,
    config_source,
    render,
    sesman_dial_port,
)
from lucid.runtime.config import Config, load_config
from lucid.runtime.errors import LucidError

__all__ = ["DEVICE", "DevicePaths", "main", "render_device"]


@dataclass(frozen=True)
class DevicePaths:
    """Where the device keeps the rendered files (the units name the same paths)."""

    run_dir: Path = Path("/run/lucid-rdp")  # traversable by session users (startwm.sh)
    log_dir: Path = Path("/var/log/lucid-rdp")  # xrdp.log (as xrdp), sesman.log (as root)
    xrdp_group: str = "xrdp"  # may read the key; the Debian package makes the user
    address: str = "0.0.0.0"  # xrdp listens here, on [rdp_gate] rdp_port

    @property
    def config_dir(self) -> Path:
        """``xrdp.ini``, ``sesman.ini``, ``startwm.sh``, ``session.env``."""
        return self.run_dir / "config"

    @property
    def tls_dir(self) -> Path:
        """The certificate as xrdp reads it: ``cert.pem`` 0644, ``key.pem`` 0640."""
        return self.run_dir / "tls"


DEVICE = DevicePaths()


def _write(path: Path, data: bytes, mode: int, gid: int) -> None:
    # Replace, never rewrite in place: xrdp reads the pair again for every connection.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chown(tmp, -1, gid)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _copy_certificate(source: DeviceCertificate, directory: Path, gid: int) -> DeviceCertificate:
    try:
        cert, key = source.cert.read_bytes(), source.key.read_bytes()
    except FileNotFoundError as err:
        raise XrdpError(
            f"no RDP certificate at {source.cert.parent}: rdp_gate makes it when it first "
            "starts (lucid-rdp-gate.service)"
        ) from err
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    os.chown(directory, -1, gid)
    os.chmod(directory, 0o750)
    copy = DeviceCertificate(directory / "cert.pem", directory / "key.pem")
    _write(copy.key, key, 0o640, gid)
    _write(copy.cert, cert, 0o644, gid)
    return copy


def render_device(
    cfg: Config,
    paths: DevicePaths = DEVICE,
    *,
    source: Path | None = None,
    xrdp_sesman_ini: Path = XRDP_ETC_SESMAN,
) -> Path:
    """Render the configuration and copy the certificate for xrdp; return the config dir.

    Args:
        cfg: the device configuration (``[rdp_gate]`` ports, ``[bus]``, ``[paths]``).
        paths: where to write (the units' paths by default).
        source: the project's xrdp files (default `lucid.rdp_gate.xrdp.config_source`).
        xrdp_sesman_ini: the file whose ``ListenPort`` xrdp 0.9 dials.
    Raises:
        XrdpError: xrdp would not dial rdp_gate's proxy, the xrdp group is missing, or
            rdp_gate has not made its certificate yet.
        OSError: a file could not be read or written.
    """
    rg = cfg.rdp_gate
    dial = sesman_dial_port(xrdp_sesman_ini)
    if dial != rg.scp_port or rg.sesman_port == rg.scp_port:
        raise XrdpError(
            f"xrdp dials port {dial} (ListenPort in {xrdp_sesman_ini}); it must be "
            f"[rdp_gate] scp_port ({rg.scp_port}), where rdp_gate's proxy listens, and "
            f"sesman_port ({rg.sesman_port}) must differ from it"
        )
    try:
        gid = grp.getgrnam(paths.xrdp_group).gr_gid
    except KeyError as err:
        raise XrdpError(f"no group {paths.xrdp_group!r}: apt-get install xrdp") from err
    state = DeviceCertificate(
        cfg.paths.daemon_state("rdp_gate") / "tls" / "cert.pem",
        cfg.paths.daemon_state("rdp_gate") / "tls" / "key.pem",
    )
    served = _copy_certificate(state, paths.tls_dir, gid)
    if not paths.log_dir.exists():  # tmpfiles makes it at boot; the same if it is gone
        paths.log_dir.mkdir(parents=True)
        os.chown(paths.log_dir, -1, gid)
        os.chmod(paths.log_dir, 0o1770)  # xrdp writes xrdp.log, root sesman.log
    settings = XrdpSettings(
        port=rg.rdp_port,
        address=paths.address,
        sesman_port=rg.sesman_port,
        bus_address=cfg.bus.address,
        syslog=True,
    )
    render(source or config_source(), paths.config_dir, paths.log_dir, served, settings)
    return paths.config_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: options override the device paths (tests, a development machine)."""
    parser = argparse.ArgumentParser(
        prog="python -m lucid.rdp_gate.render", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--run-dir", type=Path, default=DEVICE.run_dir)
    parser.add_argument("--log-dir", type=Path, default=DEVICE.log_dir)
    parser.add_argument("--address", default=DEVICE.address, help="xrdp's listen address")
    parser.add_argument("--xrdp-group", default=DEVICE.xrdp_group)
    parser.add_argument("--source", type=Path, default=None, help="the project's rdp/ files")
    args = parser.parse_args(argv)
    paths = DevicePaths(args.run_dir, args.log_dir, args.xrdp_group, args.address)
    try:
        config_dir = render_device(load_config(), paths, source=args.source)
    except (LucidError, OSError) as err:
        print(f"lucid.rdp_gate.render: {err}", file=sys.stderr)
        return 1
    print(f"lucid.rdp_gate.render: wrote {config_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
