"""The sandbox certificate authority: issues client certificates for partners choosing ``tls_client_auth``.

RFC 8705 section 2.1 (PKI mutual-TLS method): the gateway matches the certificate's subject DN against the
client's registered ``tls_client_auth_subject_dn``. Subjects follow the Open Banking transport-certificate
shape ``CN=<software_id>, OU=<org_id>, O=..., C=GB``. The CA key lives under ``var/sandbox/ca/`` (mode 0600),
so a TLS terminator in front of the gateway can trust ``ca-cert.pem``. The client's private key is returned
once and never kept.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

from sandbox.files import write_new_file

CA_KEY_FILE = "ca-key.pem"
CA_CERT_FILE = "ca-cert.pem"
ORGANISATION = "obgw sandbox"
CLIENT_CERT_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class IssuedCertificate:
    certificate_pem: str
    private_key_pem: str
    subject_dn: str


class SandboxCa:
    def __init__(self, *, ca_dir: Path) -> None:
        self._dir = ca_dir
        self._lock = threading.Lock()
        self._loaded: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None

    @property
    def certificate_file(self) -> Path:
        return self._dir / CA_CERT_FILE

    def _ensure(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        with self._lock:
            if self._loaded is None:
                self._dir.mkdir(parents=True, exist_ok=True)
                key_path, cert_path = self._dir / CA_KEY_FILE, self.certificate_file
                if not key_path.exists():
                    generated = ec.generate_private_key(ec.SECP256R1())
                    write_new_file(key_path, _pem_private(generated), mode=0o600)
                # Whatever key is on disk (ours, or another process's that won the race) is the CA key.
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                if not isinstance(key, ec.EllipticCurvePrivateKey):
                    raise RuntimeError(f"{key_path} is not an EC key")
                if not cert_path.exists():
                    cert = _self_signed_ca(key)
                    write_new_file(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                if cert.public_key() != key.public_key():
                    raise RuntimeError(f"{cert_path} does not match {key_path}")
                self._loaded = (key, cert)
            return self._loaded

    def issue_client_certificate(self, *, software_id: str, org_id: str) -> IssuedCertificate:
        ca_key, ca_cert = self._ensure()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_id),
                x509.NameAttribute(NameOID.COMMON_NAME, software_id),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CLIENT_CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return IssuedCertificate(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            private_key_pem=_pem_private(key).decode("ascii"),
            # RFC 4514 string form, most specific RDN first: what tls_client_auth_subject_dn registers.
            subject_dn=subject.rfc4514_string(),
        )


def _pem_private(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _self_signed_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "obgw sandbox CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
