"""Test certificates made with `cryptography`: a CA, the server certificate it signs, and a stranger.

The server's certificate is signed by a CA rather than self-signed, as a private deployment
would have it, so a client must be given the CA, not the server's own certificate. The
stranger is a second CA with the same name that signed nothing: a client that trusts it
can only be refused by checking signatures, not names.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "embedtune test CA")])
SERVER_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
# What the tests dial (ServerProcess.address is 127.0.0.1:PORT) and what people type.
SERVER_ALT_NAMES = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


@dataclass(frozen=True)
class Certificates:
    """PEM files: `ca` signed the server's `cert` (whose key is `key`); `stranger` signed nothing."""

    ca: Path
    cert: Path
    key: Path
    stranger: Path

    def server_flags(self) -> tuple[str, ...]:
        """The `embedtune serve` flags that serve TLS with this certificate."""
        return ("--tls-cert", str(self.cert), "--tls-key", str(self.key))


def _certificate(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    alt_names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A day-long certificate; a CA one when it has no `alt_names`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=alt_names is None, path_length=None), critical=True)
    )
    if alt_names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _authority() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return _certificate(CA_NAME, key.public_key(), CA_NAME, key), key


def _write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def issue(folder: Path) -> Certificates:
    """Make the CA, the server's certificate and key, and the stranger CA, as PEM files in `folder`."""
    ca, ca_key = _authority()
    stranger, _ = _authority()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(SERVER_NAME, key.public_key(), CA_NAME, ca_key, SERVER_ALT_NAMES)
    key_path = folder / "server-key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificates(
        ca=_write_certificate(folder / "ca.pem", ca),
        cert=_write_certificate(folder / "server.pem", cert),
        key=key_path,
        stranger=_write_certificate(folder / "stranger.pem", stranger),
    )
