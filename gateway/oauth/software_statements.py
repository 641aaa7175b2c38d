"""Software statements (RFC 7591 section 2.3) issued by a trusted directory (OBIE Directory SSA).

The statement is a JWS signed by the directory; the gateway trusts exactly the keys of one JWKS file:
in sandbox mode the public JWKS the sandbox directory writes to ``{var_dir}/sandbox/directory-jwks.json``,
in production ``settings.directory_jwks_file``. The file is re-read when it changes on disk and whenever a
statement names a ``kid`` not yet known (the sandbox may create directory keys after the gateway started),
so a key removed from the file stops being trusted.

Checks (OBIE Directory "SSA" and DCR v3.3 "Request Validation"): ``alg`` one of the rulebook's
``algorithms.software_statement`` (policies/fapi.yaml; PS256 and ES256 as shipped), ``kid``
of a trusted key, signature, ``iat`` not in the future beyond the clock skew, ``exp`` (when present) not
passed, the claims a registration relies on present, and ``org_status`` (when present) ``Active``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from gateway.errors import InvalidSoftwareStatement
from gateway.errors import UnapprovedSoftwareStatement
from gateway.security import jose
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.services import Services

SANDBOX_DIRECTORY_JWKS = Path("sandbox") / "directory-jwks.json"
REQUIRED_CLAIMS: tuple[str, ...] = ("software_id", "software_redirect_uris", "software_roles", "org_id")
MAX_SSA_LENGTH = 64 * 1024


def directory_jwks_path(settings: Settings) -> Path | None:
    """Where the trusted directory's public JWKS lives for this deployment."""
    if settings.is_sandbox:
        return settings.var_dir / SANDBOX_DIRECTORY_JWKS
    return settings.directory_jwks_file


@dataclass
class _TrustedKeys:
    stamp: tuple[int, int, int]
    keys: tuple[dict[str, Any], ...]


# Parsed directory JWKS per file path; reloaded when the file changes or an unknown kid shows up.
_cache: dict[Path, _TrustedKeys] = {}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _load(path: Path) -> _TrustedKeys | None:
    stamp = _stamp(path)
    if stamp is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        return None
    # Only the public half is ever used, even if someone wrote a private JWKS by mistake.
    keys = tuple(jose.public_jwk(k) for k in data["keys"] if isinstance(k, dict) and k.get("kid"))
    return _TrustedKeys(stamp=stamp, keys=keys)


def trusted_directory_keys(path: Path, *, reload: bool = False) -> tuple[dict[str, Any], ...]:
    """The directory's public keys from ``path`` (empty when the file is missing or unreadable)."""
    entry = _cache.get(path)
    if reload or entry is None or entry.stamp != _stamp(path):
        entry = _load(path)
        if entry is None:
            _cache.pop(path, None)
            return ()
        _cache[path] = entry
    return entry.keys


def _directory_key(path: Path | None, kid: str) -> dict[str, Any]:
    if path is None:
        raise UnapprovedSoftwareStatement("no trusted software statement issuer is configured")
    for reload in (False, True):
        for key in trusted_directory_keys(path, reload=reload):
            if key.get("kid") == kid:
                return key
    raise UnapprovedSoftwareStatement("software statement is not signed by a trusted directory key")


async def verify_software_statement(ssa: str, *, services: Services) -> dict[str, Any]:
    """The verified claims of ``ssa``, or ``InvalidSoftwareStatement`` / ``UnapprovedSoftwareStatement``."""
    settings = services.settings
    skew_ahead = services.policies.fapi.clock_skew_ahead  # policies/fapi.yaml clock_skew.ahead_seconds
    if not isinstance(ssa, str) or not ssa or len(ssa) > MAX_SSA_LENGTH:
        raise InvalidSoftwareStatement("software_statement must be a signed JWT")
    try:
        header = jose.unverified_header(ssa)
    except jose.JoseError as exc:
        raise InvalidSoftwareStatement("software_statement is not a JWT") from exc
    alg = header.get("alg")
    allowed = services.policies.fapi.algorithms["software_statement"]
    if alg not in allowed or alg not in jose.FAPI_ALGORITHMS:
        # Unsigned (alg none) and non-FAPI (RS256, HS256, ...) statements are refused outright.
        raise InvalidSoftwareStatement(f"software_statement alg must be one of {', '.join(allowed)}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        # OBIE Directory: the header names the signing key; without it the signer cannot be identified.
        raise InvalidSoftwareStatement("software_statement header has no kid")
    for member in ("jwk", "jku", "x5u", "x5c"):
        if member in header:
            # The trust anchor is the directory JWKS only, never a key the statement brings along.
            raise InvalidSoftwareStatement(f"software_statement header must not carry {member}")
    key = _directory_key(directory_jwks_path(settings), kid)
    try:
        claims = jose.verify(
            ssa,
            key=key,
            algorithms=[alg],
            require=["iat"],
            # The leeway lets ``iat`` be up to the allowed skew ahead; ``exp`` is checked below without it.
            leeway=skew_ahead,
            verify_exp=False,
        )
    except jose.JoseError as exc:
        raise InvalidSoftwareStatement(f"software_statement rejected: {exc}") from exc
    _check_times(claims, skew=skew_ahead)
    _check_claims(claims)
    return claims


def _check_times(claims: dict[str, Any], *, skew: int) -> None:
    now = time.time()
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now + skew:
        raise InvalidSoftwareStatement("software_statement iat is missing or in the future")
    if "exp" in claims:
        exp = claims["exp"]
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            raise InvalidSoftwareStatement("software_statement has expired")


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _check_claims(claims: dict[str, Any]) -> None:
    missing = [c for c in REQUIRED_CLAIMS if c not in claims]
    if missing:
        raise InvalidSoftwareStatement(f"software_statement lacks {', '.join(missing)}")
    for name in ("software_id", "org_id"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise InvalidSoftwareStatement(f"software_statement {name} must be a non-empty string")
    for name in ("software_redirect_uris", "software_roles"):
        if not _is_str_list(claims[name]):
            raise InvalidSoftwareStatement(f"software_statement {name} must be a non-empty list of strings")
    # OBIE Directory: org_status is Active, Revoked or Withdrawn; only an active organisation may register.
    if "org_status" in claims and claims["org_status"] != "Active":
        raise UnapprovedSoftwareStatement("the organisation in the software statement is not Active")
    # Optional key material must at least have the right shape; it is used to verify the TPP's requests.
    if "software_jwks" in claims and not _is_jwks(claims["software_jwks"]):
        raise InvalidSoftwareStatement("software_statement software_jwks is not a JWKS")
    endpoint = claims.get("software_jwks_endpoint")
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://"))):
        raise InvalidSoftwareStatement("software_statement software_jwks_endpoint is not a URL")


def _is_jwks(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("keys"), list)
        and all(isinstance(k, dict) for k in value["keys"])
    )
