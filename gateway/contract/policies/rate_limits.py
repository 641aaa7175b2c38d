"""``policies/rate-limits.yaml``: limits per TPP tier and rate class, per consent, the PSD2 RTS Art. 36(5)(b)
unattended-access rule (docs/obie-notes.md section 10) and the bank sign-in throttle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from limits.strategies import STRATEGIES

from gateway.contract.policies.checking import Limit
from gateway.contract.policies.checking import read_policy_file
from gateway.contract.policies.routes import SCOPES

RATE_LIMITS_FILE: Final = "rate-limits.yaml"
# Who an unattended-access budget is counted for; see rate-limits.yaml `unattended.per`.
UNATTENDED_KEYS: Final = frozenset({"client", "consent", "account", "operation"})


@dataclass(frozen=True, kw_only=True)
class UnattendedRule:
    limit: Limit
    per: tuple[str, ...]
    presence_header: str
    scopes: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class SignInLimits:
    """Failed bank sign-in attempts allowed per username and per client address (rate-limits.yaml ``sign_in``)."""

    per_username: Limit
    per_address: Limit


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    strategy: str
    classes: frozenset[str]
    default_tier: str
    tiers: Mapping[str, Mapping[str, Limit]]
    per_consent: Limit
    unattended: UnattendedRule
    sign_in: SignInLimits

    def for_client(self, *, tier: str | None, rate_class: str) -> Limit:
        """The limit of ``rate_class`` for a client on ``tier`` (None: the default tier). An unknown tier or
        class raises ``KeyError``: the caller must refuse the request rather than run unlimited."""
        return self.tiers[tier or self.default_tier][rate_class]


def load_rate_limits(policies_dir: Path) -> RateLimits:
    top = read_policy_file(policies_dir, RATE_LIMITS_FILE)
    top.keys(
        required={"version", "strategy", "classes", "default_tier", "tiers", "per_consent", "unattended",
                  "sign_in"}
    )
    strategy = top.string("strategy", choices=STRATEGIES)
    classes_entry = top.child("classes")
    if not classes_entry.value:
        classes_entry.fail("at least one rate class is required")
    classes = frozenset(classes_entry.value)
    tiers_entry = top.child("tiers")
    if not tiers_entry.value:
        tiers_entry.fail("at least one tier is required")
    tiers: dict[str, Mapping[str, Limit]] = {}
    for tier_name in tiers_entry.value:
        tier = tiers_entry.child(tier_name)
        # Fail closed: a tier must say how much of every class it allows; no class runs unlimited.
        tier.keys(required=classes)
        tiers[tier_name] = MappingProxyType({cls: tier.limit(cls) for cls in sorted(classes)})
    default_tier = top.string("default_tier", choices=tiers)
    per_consent = top.limit("per_consent")
    unattended_entry = top.child("unattended")
    unattended_entry.keys(required={"limit", "per", "presence_header", "scopes"})
    per = unattended_entry.string_list("per", choices=UNATTENDED_KEYS, what="counting key")
    if "consent" not in per:
        unattended_entry.fail("per must include consent (PSD2 RTS Art. 36(5)(b) counts per consent)")
    unattended = UnattendedRule(
        limit=unattended_entry.limit("limit"),
        per=per,
        presence_header=unattended_entry.string("presence_header").lower(),
        scopes=frozenset(unattended_entry.string_list("scopes", choices=SCOPES, what="scope")),
    )
    sign_in_entry = top.child("sign_in")
    sign_in_entry.keys(required={"per_username", "per_address"})
    sign_in = SignInLimits(
        per_username=sign_in_entry.limit("per_username"), per_address=sign_in_entry.limit("per_address")
    )
    return RateLimits(
        strategy=strategy,
        classes=classes,
        default_tier=default_tier,
        tiers=MappingProxyType(tiers),
        per_consent=per_consent,
        unattended=unattended,
        sign_in=sign_in,
    )
