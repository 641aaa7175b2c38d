"""What a running gateway holds for its lifetime, built once by ``gateway.app`` and reached by handlers as
``request.app.state.services``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from starlette.requests import Request

from gateway.security.keys import KeyStore
from gateway.security.single_use import SingleUseStore
from gateway.settings import Settings
from gateway.store.db import Database

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

    from gateway.backend.bank import Bank
    from gateway.backend.bank_idp import BankIdentityProvider
    from gateway.contract.policies.loader import Policies
    from gateway.contract.specs import OpenApiSpecs
    from gateway.security.client_keys import ClientKeyCache
    from gateway.security.sign_in_throttle import SignInThrottle


@dataclass(kw_only=True)
class Services:
    settings: Settings
    db: Database
    keys: KeyStore
    single_use: SingleUseStore
    # The one client of every call to the bank (customer pages, accounts, payments, funds, scenarios).
    bank: Bank
    templates: Jinja2Templates
    # Outbound HTTP for fetching TPP JWKS (``software_jwks_endpoint``, ``jwks_uri``).
    http: httpx.AsyncClient
    client_keys: ClientKeyCache
    # Server secret for signed cookies, CSRF tokens and DPoP nonces (settings.session_secret, or random
    # per process in sandbox mode).
    secret: bytes
    specs: OpenApiSpecs
    policies: Policies
    # Failed bank sign-ins per username and address (rate-limits.yaml ``sign_in``).
    sign_in_throttle: SignInThrottle
    # The bank's OpenID Connect provider customers sign in at (production; docs/architecture.md section 10),
    # or None where the sandbox password form signs them in.
    bank_idp: BankIdentityProvider | None = None


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]
