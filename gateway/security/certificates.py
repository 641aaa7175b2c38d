"""The client certificate of a mutual-TLS connection, as passed on by the TLS terminator.

RFC 8705 (OAuth 2.0 mutual-TLS client authentication and certificate-bound tokens) with the certificate
carried in a request header: RFC 9440 ``Client-Cert`` (``:base64-DER:``) or nginx's URL-escaped PEM
(``$ssl_client_escaped_cert``). The header is trusted only when the TCP peer is a configured proxy
address; from anyone else it is ignored, so a client cannot forge a certificate by sending the header.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.requests import Request

from gateway.errors import InvalidClient
from gateway.security import jose
from gateway.settings import Settings


def presented_certificate(request: Request, *, settings: Settings) -> x509.Certificate | None:
    """The certificate the trusted TLS terminator verified, or ``None`` when there is none to trust."""
    raw = request.headers.get(settings.client_cert_header)
    if not raw:
        return None
    peer = request.client.host if request.client else None
    if not settings.is_trusted_proxy(peer):
        # RFC 9440 section 4: only accept the header from the terminator; anyone else could forge it.
        return None
    cert = parse_certificate_header(raw)
    now = datetime.now(UTC)
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        raise InvalidClient("client certificate is not valid at this time")
    return cert


def parse_certificate_header(raw: str) -> x509.Certificate:
    value = raw.strip()
    try:
        if value.startswith(":") and value.endswith(":"):
            return x509.load_der_x509_certificate(base64.b64decode(value[1:-1], validate=True))
        pem = unquote(value)
        if "-----BEGIN CERTIFICATE-----" not in pem:
            return x509.load_der_x509_certificate(base64.b64decode(pem, validate=True))
        # Some terminators fold the PEM onto one line with spaces instead of newlines.
        body = pem.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----", 1)[0]
        der = base64.b64decode("".join(body.split()), validate=True)
        return x509.load_der_x509_certificate(der)
    except (ValueError, binascii.Error) as exc:
        raise InvalidClient("malformed client certificate", detail=str(exc)) from exc


def certificate_thumbprint(cert: x509.Certificate) -> str:
    """RFC 8705 section 3.1: ``x5t#S256`` of the DER certificate."""
    return jose.certificate_thumbprint(cert.public_bytes(Encoding.DER))


def subject_dn(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def same_dn(registered: str, presented: x509.Certificate) -> bool:
    """RFC 8705 section 2.1.2: compare distinguished names as names, not as strings."""
    try:
        return x509.Name.from_rfc4514_string(registered) == presented.subject
    except ValueError:
        return False
