"""OBIE message signing: the ``x-jws-signature`` detached JWS on payment requests and responses.

Read/Write API v3.1.11 profile, "Message Signing" (docs/obie-notes.md section 5, "JWS details"): a JWS over the raw HTTP body
with the payload detached (RFC 7515 appendix F, ``header..signature``). From v3.1.4 on there is no ``b64``
header (Waiver 7): the signing input is ``b64url(header) "." b64url(body)``, and a ``b64`` header is refused.
The protected header carries ``alg`` (PS256: the rulebook's ``algorithms.message_signature``), ``kid``, ``crit`` and exactly the three critical claims
``http://openbanking.org.uk/iat``, ``/iss`` and ``/tan``; ``typ`` (``JOSE``) and ``cty`` (JSON) are optional.

Checks run in the order of the error codes (docs/obie-notes.md section 6), so a request gets the first failure:
``UK.OBIE.Signature.Missing`` -> ``Malformed`` -> ``MissingClaim`` -> ``InvalidClaim`` -> ``Invalid``.

The TPP's ``iss`` must be ``{org_id}/{software_id}`` of the registered client (profile: "the TPP's
organisation id / software statement id"). A client registered without an organisation id (possible only for
clients inserted by an operator, never through DCR with an SSA) must use its ``software_id`` alone. Exactly one
value is accepted per client: fail closed.

The ASPSP signs its responses the same way, with the gateway's current key (published at ``/jwks``) and
``iss`` = the ASPSP's organisation id.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Final

from gateway import errors
from gateway.security import jose
from gateway.security.keys import KeyStore
from gateway.settings import Settings

HEADER: Final = "x-jws-signature"
CLAIM_IAT: Final = "http://openbanking.org.uk/iat"
CLAIM_ISS: Final = "http://openbanking.org.uk/iss"
CLAIM_TAN: Final = "http://openbanking.org.uk/tan"
CRITICAL: Final = frozenset({CLAIM_IAT, CLAIM_ISS, CLAIM_TAN})
# The profile: the signer "must" use PS256; policies/fapi.yaml ``algorithms.message_signature`` is the list the
# verifier accepts and the gateway signs with (the loader allows only [PS256]).
_KEY_TYPE: Final = {"PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
# The OB Directory's trust anchor DNS name (profile, "http://openbanking.org.uk/tan").
DEFAULT_TRUST_ANCHOR: Final = "openbanking.org.uk"
DEFAULT_ASPSP_ORG_ID: Final = "obgw-sandbox-aspsp"

_REQUIRED: Final = ("alg", "kid", "crit", CLAIM_IAT, CLAIM_ISS, CLAIM_TAN)
# Profile: "the verifier must reject headers with other claims"; typ and cty are the two optional ones.
_ALLOWED: Final = frozenset({"alg", "kid", "crit", "typ", "cty", *CRITICAL})
_JSON_CTY: Final = frozenset({"json", "application/json"})


@dataclass(frozen=True, kw_only=True)
class SigningProfile:
    """What message signing needs from the configuration."""

    trust_anchor: str = DEFAULT_TRUST_ANCHOR
    aspsp_org_id: str = DEFAULT_ASPSP_ORG_ID

    @classmethod
    def from_settings(cls, settings: Settings) -> SigningProfile:
        # ``jws_trust_anchor`` and ``aspsp_org_id`` are Settings fields (OBGW_JWS_TRUST_ANCHOR,
        # OBGW_ASPSP_ORG_ID); until every deployment has them the documented sandbox defaults apply.
        return cls(
            trust_anchor=settings.jws_trust_anchor,
            aspsp_org_id=settings.aspsp_org_id,
        )


def expected_issuer(client: Any) -> str:
    """The one ``http://openbanking.org.uk/iss`` value accepted from ``client`` (module docstring)."""
    software_id = str(getattr(client, "software_id", "") or "")
    org_id = str(getattr(client, "org_id", "") or "")
    return f"{org_id}/{software_id}" if org_id else software_id


def _malformed(message: str, *, detail: str | None = None) -> errors.SignatureMalformed:
    return errors.SignatureMalformed(message, path=HEADER, detail=detail)


def _invalid_claim(message: str) -> errors.SignatureInvalidClaim:
    return errors.SignatureInvalidClaim(message, path=HEADER)


def verify_request_signature(
    *,
    header_value: str | None,
    body: bytes,
    client: Any,
    keys: list[dict[str, Any]],
    now: datetime | float | None = None,
    trust_anchor: str = DEFAULT_TRUST_ANCHOR,
    clock_skew: int,
    algorithms: Collection[str],
) -> None:
    """Check a TPP's ``x-jws-signature`` over the raw request ``body``; returns only if every rule holds.

    ``client`` is the registered client (``software_id``, ``org_id``), ``keys`` its public signing keys;
    ``clock_skew`` is the rulebook's ``clock_skew.ahead_seconds`` and ``algorithms`` its
    ``algorithms.message_signature`` (``policies/fapi.yaml``).
    Raises the first failing ``gateway.errors.Signature*`` (module docstring for the order).
    """
    if header_value is None or not header_value.strip():
        raise errors.SignatureMissing("x-jws-signature header is required", path=HEADER)
    try:
        jws = jose.parse_detached(header_value.strip())
    except jose.JoseError as exc:
        raise _malformed("x-jws-signature is not a detached JWS", detail=str(exc)) from None
    header = jws.header
    if "b64" in header:
        # Profile (v3.1.4 onward): the b64 claim must not be used; ASPSPs may reject it. We do (fail closed).
        raise _malformed("x-jws-signature must not carry the b64 header (R/W API v3.1.4 onward)")

    for name in _REQUIRED:
        if name not in header:
            raise errors.SignatureMissingClaim(f"x-jws-signature header lacks {name}", path=HEADER)

    alg = header["alg"]
    if alg not in algorithms or alg not in _KEY_TYPE:
        raise _invalid_claim(f"alg must be one of {', '.join(algorithms)}")
    unknown = sorted(set(header) - _ALLOWED)
    if unknown:
        raise _invalid_claim(f"unexpected header parameter {unknown[0]}")
    crit = header["crit"]
    if not isinstance(crit, list) or len(crit) != len(CRITICAL) or set(crit) != CRITICAL:
        raise _invalid_claim("crit must list exactly the iat, iss and tan claims")
    if "typ" in header and header["typ"] != "JOSE":
        raise _invalid_claim("typ must be JOSE")
    if "cty" in header and header["cty"] not in _JSON_CTY:
        raise _invalid_claim("cty must be json or application/json")
    iat = header[CLAIM_IAT]
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _invalid_claim("http://openbanking.org.uk/iat must be a NumericDate")
    current = _seconds(now)
    if iat > current + clock_skew:
        # Profile: iat "must be a time before the current time"; the rulebook allows clock_skew seconds of skew.
        raise _invalid_claim("http://openbanking.org.uk/iat is in the future")
    if header[CLAIM_ISS] != expected_issuer(client):
        raise _invalid_claim("http://openbanking.org.uk/iss does not name the registered software")
    if header[CLAIM_TAN] != trust_anchor:
        raise _invalid_claim("http://openbanking.org.uk/tan is not a trusted anchor")
    kid = header["kid"]
    if not isinstance(kid, str) or not kid:
        raise _invalid_claim("kid must be a non-empty string")
    matching = [k for k in keys if k.get("kid") == kid and k.get("use", "sig") == "sig"]
    if len(matching) != 1:
        raise _invalid_claim("kid does not name one of the client's registered signing keys")
    key = matching[0]
    if key.get("kty") != _KEY_TYPE[alg] or key.get("alg", alg) != alg:
        raise _invalid_claim(f"kid names a key that cannot sign {alg}")

    if not jose.verify_detached(jws, payload=body, key=key):
        raise errors.SignatureInvalid("x-jws-signature does not verify over the request body", path=HEADER)


def sign_response(
    *, body: bytes, keys: KeyStore, settings: Settings, algorithms: Collection[str], now: float | None = None
) -> str:
    """The gateway's ``x-jws-signature`` for a response ``body`` with the current key (``/jwks``), whose alg must
    be one of ``algorithms`` (the rulebook's ``algorithms.message_signature``; checked at start-up too)."""
    profile = SigningProfile.from_settings(settings)
    alg = jose.alg_for(keys.current)
    if alg not in algorithms:
        raise jose.JoseError(f"the gateway's signing key is {alg}, not one of {', '.join(algorithms)}")
    return sign(body=body, key=keys.current, issuer=profile.aspsp_org_id, trust_anchor=profile.trust_anchor,
                now=now)


def sign(
    *,
    body: bytes,
    key: Mapping[str, Any],
    issuer: str,
    trust_anchor: str = DEFAULT_TRUST_ANCHOR,
    now: float | None = None,
) -> str:
    """A detached OBIE JWS over ``body`` with ``key`` (which must carry its ``kid``), in the key's alg."""
    header = {
        "alg": jose.alg_for(key),
        "kid": key["kid"],
        "typ": "JOSE",
        "cty": "application/json",
        CLAIM_IAT: int(time.time() if now is None else now),
        CLAIM_ISS: issuer,
        CLAIM_TAN: trust_anchor,
        "crit": sorted(CRITICAL),
    }
    return jose.sign_detached(body, key=key, header=header)


def _seconds(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)
