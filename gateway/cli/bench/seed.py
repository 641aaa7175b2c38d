"""What the benchmark seeds and signs before its timed windows (docs/performance.md, "Rate limits and seeding").

* ``bench_rulebook``: a copy of the shipped ``policies/`` with ONLY the tier budgets raised (every item of every
  tier and class multiplied by ``TIER_FACTOR``): per-consent and unattended budgets stay as shipped.
* ``consents_needed``: how many authorised consents (one DPoP-bound token each, sharing one DPoP key) keep every
  consent inside its shipped per-consent budget when the full-check requests are spread round robin over them.
* ``seed``: one AISP client, the consents (created and authorised through the consent service, as a customer
  would) and their tokens, in the gateway's own database.
* ``dpop_requests`` / ``context_requests``: the pre-signed header fields, one request per line for wrk.
"""

from __future__ import annotations

import math
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import limits
import yaml

from gateway.security import jose
from gateway.settings import Settings

TIER_FACTOR = 10_000
RATE_LIMITS_FILE = "rate-limits.yaml"
PRESENT_IP = "127.0.0.1"
# Share of a shipped per-consent budget a consent may use during the run: room for uneven spreading.
HEADROOM = 0.5
# Pre-signed requests for a window: the expected rate times the window, with this margin.
SIGNING_MARGIN = 1.5
PERMISSIONS = ("ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits",
               "ReadTransactionsDebits")


def raise_limit(text: str, *, factor: int = TIER_FACTOR) -> str:
    """``"20/second;600/minute"`` -> ``"200000/second;6000000/minute"``: same windows, amounts x ``factor``."""
    return ";".join(f"{item.amount * factor}/{item.multiples} {item.GRANULARITY.name}"
                    if item.multiples != 1 else f"{item.amount * factor}/{item.GRANULARITY.name}"
                    for item in limits.parse_many(text))


def bench_rulebook(*, source: Path, target: Path, factor: int = TIER_FACTOR) -> Path:
    """A copy of the rulebook in ``target`` whose tier budgets are ``factor`` times the shipped ones."""
    shutil.copytree(source, target)
    path = target / RATE_LIMITS_FILE
    data = yaml.safe_load(path.read_text())
    data["tiers"] = {tier: {rate_class: raise_limit(text, factor=factor) for rate_class, text in classes.items()}
                     for tier, classes in data["tiers"].items()}
    path.write_text(f"# The shipped rulebook with only the tier budgets raised x{factor} for the benchmark.\n"
                    + yaml.safe_dump(data, sort_keys=False))
    return target


def per_consent_limits(policies_dir: Path) -> str:
    return str(yaml.safe_load((policies_dir / RATE_LIMITS_FILE).read_text())["per_consent"])


def consents_needed(*, per_consent: str, expected_rps: float, run_seconds: float,
                    headroom: float = HEADROOM) -> int:
    """Consents such that, with ``expected_rps`` requests a second spread evenly over them for at most
    ``run_seconds`` in all, no consent uses more than ``headroom`` of any of its ``per_consent`` windows."""
    needed = 1
    for item in limits.parse_many(per_consent):
        window = item.get_expiry()
        in_window = expected_rps * min(window, run_seconds)
        needed = max(needed, math.ceil(in_window / (item.amount * headroom)))
    return needed


def coprime_with(count: int, *, threads: int) -> int:
    """The smallest number >= ``count`` sharing no factor with ``threads``: line i goes to wrk thread
    i mod threads and uses consent i mod consents, so each thread's slice then cycles through every consent."""
    while math.gcd(count, threads) != 1:
        count += 1
    return count


def requests_to_sign(*, seen: Sequence[float], warmup_rps: float, warmup_ran_out: bool, seconds: float,
                     margin: float = SIGNING_MARGIN) -> int:
    """Pre-signed requests for a timed window: ``margin`` times the best rate this line reached in earlier
    windows (``seen``) or in its warm-up. A warm-up is no steady state (node's JIT, the gateway's caches): before
    any earlier window, or when the warm-up itself ran out, its rate counts double."""
    warm = warmup_rps * (2 if warmup_ran_out or not seen else 1)
    return int(max([*seen, warm]) * seconds * margin) + 200


@dataclass(frozen=True, kw_only=True)
class Seeded:
    tokens: tuple[str, ...]  # one DPoP-bound access token per consent, in consent order
    dpop_key: dict[str, Any]
    account_id: str
    claims: dict[str, Any]  # the bank context of the first consent (pass-through and direct scenarios)


async def seed(*, settings: Settings, consents: int) -> Seeded:
    """One AISP client and ``consents`` authorised consents of the sandbox customer alice, one token each."""
    from consent import service
    from gateway.store.db import Database
    from gateway.store.db import utcnow
    from gateway.store.migrate import upgrade_async
    from gateway.store.oauth_tables import Client
    from gateway.store.oauth_tables import Token
    from gateway.store.oauth_tables import new_secret
    from gateway.store.oauth_tables import secret_hash
    from sandbox.customers import accounts_of
    from sandbox.customers import customer_id

    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    dpop_key = jose.generate_key(alg="ES256")
    jkt = jose.thumbprint(jose.public_jwk(dpop_key))
    psu = customer_id(username="alice")
    accounts = [a.account_id for a in accounts_of("alice")]
    now = utcnow()
    consent_ids: list[str] = []
    tokens: list[str] = []
    try:
        async with db.session() as session:
            session.add(Client(client_id=client_id, software_id=f"software-{client_id}", client_name="bench",
                               token_endpoint_auth_method="private_key_jwt", redirect_uris=["https://bench.invalid/cb"],
                               grant_types=["authorization_code"], scope="openid accounts", software_roles=["AISP"],
                               jwks=jose.public_jwks([jose.generate_key(alg="ES256")])))
            await session.commit()
        async with db.session() as session:
            for _ in range(consents):
                consent = await service.create_account_access_consent(
                    session=session, client_id=client_id, data={"Permissions": list(PERMISSIONS)}, risk={}, now=now)
                await service.authorise(session=session, consent_id=consent.consent_id, client_id=client_id,
                                        psu_id=psu, account_ids=accounts, available_account_ids=accounts, now=now)
                consent_ids.append(consent.consent_id)
        async with db.session() as session:
            for consent_id in consent_ids:
                token = new_secret()
                tokens.append(token)
                session.add(Token(token_hash=secret_hash(token), kind="access", grant_id=uuid.uuid4().hex,
                                  grant_type="authorization_code", client_id=client_id, psu_id=psu,
                                  consent_id=consent_id, scope="openid accounts", jkt=jkt,
                                  expires_at=now + timedelta(hours=2)))
            await session.commit()
    finally:
        await db.dispose()
    claims = {"purpose": "ais", "psu_id": psu, "consent_id": consent_ids[0], "account_ids": accounts,
              "permissions": sorted(PERMISSIONS)}
    return Seeded(tokens=tuple(tokens), dpop_key=dpop_key, account_id=accounts[0], claims=claims)


def dpop_requests(*, seeded: Seeded, htu: str, count: int, start: int) -> list[dict[str, str]]:
    """``count`` requests with a fresh DPoP proof each (unique jti; htm, htu, iat, ath), the tokens taken round
    robin from position ``start`` so that consecutive requests use different consents."""
    key = {k: v for k, v in seeded.dpop_key.items() if k != "kid"}
    header = {"typ": "dpop+jwt", "jwk": jose.public_jwk(seeded.dpop_key)}
    tokens = seeded.tokens
    ath = [jose.sha256_b64url(token) for token in tokens]
    now = int(time.time())
    signed = []
    for n in range(start, start + count):
        i = n % len(tokens)
        proof = jose.sign({"jti": str(uuid.uuid4()), "htm": "GET", "htu": htu, "iat": now, "ath": ath[i]},
                          key=key, headers=header)
        signed.append({"authorization": f"DPoP {tokens[i]}", "dpop": proof,
                       "x-fapi-customer-ip-address": PRESENT_IP})
    return signed


def context_requests(*, sign: Any, claims: dict[str, Any], public_base: str, count: int) -> list[dict[str, str]]:
    """``count`` requests for the bank's own API, each with a fresh gateway-signed context token."""
    return [{"x-obgw-context": sign(**claims), "x-obgw-public-base": public_base} for _ in range(count)]


def uses_per_consent(*, requests: Sequence[int], consents: int) -> int:
    """The most requests any one consent received, round robin over ``consents``, over the whole run."""
    return math.ceil(sum(requests) / consents) if consents else 0
