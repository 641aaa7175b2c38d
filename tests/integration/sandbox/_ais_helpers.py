"""Shared by the sandbox AIS tests: a gateway-signed AIS context token and the official v3.1.11 document."""

from __future__ import annotations

import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jwt
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.testing import MockResponse

from sandbox.customers import accounts_of
from sandbox.customers import customer_id

ISSUER = "http://127.0.0.1:8000"
REPO_ROOT = Path(__file__).resolve().parents[3]
# The official OBIE file, vendored unmodified in the repository (openapi/obie/README.md).
OFFICIAL_SPEC = REPO_ROOT / "openapi" / "obie" / "account-and-transaction" / "v3.1.11" / "account-info-openapi.yaml"
ALL_PERMISSIONS = [
    "ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesDetail", "ReadDirectDebits", "ReadOffers", "ReadParty",
    "ReadPartyPSU", "ReadProducts", "ReadScheduledPaymentsDetail", "ReadStandingOrdersDetail",
    "ReadStatementsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits", "ReadTransactionsDetail",
]


@cache
def official() -> OpenAPI:
    return OpenAPI.from_file_path(str(OFFICIAL_SPEC))


def ais_context(key: dict[str, Any], *, username: str = "alice", **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": "obgw-bank", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()),
        "purpose": "ais", "psu_id": customer_id(username=username), "consent_id": "aac-" + str(uuid.uuid4()),
        "account_ids": [a.account_id for a in accounts_of(username)], "permissions": ALL_PERMISSIONS,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, jwt.PyJWK(key).key, algorithm=key["alg"], headers={"kid": key["kid"]})


def validate_against_official(path: str, response: httpx.Response) -> None:
    """Raise unless ``response`` is a valid v3.1.11 answer to GET ``/open-banking/v3.1/aisp{path}``."""
    request = MockRequest(ISSUER, "get", "/open-banking/v3.1/aisp" + path.split("?")[0])
    official().validate_response(
        request,
        MockResponse(
            data=response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type="application/json",
        ),
    )
