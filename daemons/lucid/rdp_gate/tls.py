"""The device's RDP certificate: made once in the state directory, shown as a fingerprint.

xrdp serves it with ``security_layer=tls``; clients pin or compare its SHA-256 fingerprint,
which the web page shows. RSA 2048 because every RDP client accepts it (some older ones
reject ECDSA server certificates). This module does not start xrdp.
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

VALID_DAYS = 3650  # a device certificate is pinned by fingerprint, not by a CA's dates


@dataclass(frozen=True)
class DeviceCertificate:
    cert: Path
    key: Path

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER certificate as colon-separated hex pairs (as clients show it)."""
        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def ensure_certificate(
    directory: Path, name: str = "", key_group: int | None = None
) -> DeviceCertificate:
    """The certificate in ``directory`` (``cert.pem``, ``key.pem``), made if missing.

    Args:
        directory: where the pair lives (created 0755; the key is 0600 or 0640).
        name: the subject common name; default the host name.
        key_group: gid that may read the key (xrdp's group), or None.
    Returns:
        The pair's paths.
    """
    pair = DeviceCertificate(directory / "cert.pem", directory / "key.pem")
    if pair.cert.exists() and pair.key.exists():
        return pair
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name or socket.gethostname())])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp_key = pair.key.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    if key_group is not None:
        os.chown(tmp_key, -1, key_group)
        os.chmod(tmp_key, 0o640)
    os.replace(tmp_key, pair.key)
    tmp_cert = pair.cert.with_suffix(".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(tmp_cert, 0o644)
    os.replace(tmp_cert, pair.cert)
    return pair
