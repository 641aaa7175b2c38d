"""``policies/fapi.yaml``: accepted algorithms (FAPI 2.0 Security Profile section 5.4), clock skew and lifetimes,
each bounded by the profile that sets it; the gateway's settings and signing key are checked against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final

from gateway.contract.policies.checking import PolicyError
from gateway.contract.policies.checking import read_policy_file
from gateway.security import jose
from gateway.settings import Settings

FAPI_FILE: Final = "fapi.yaml"

# Lifetimes fapi.yaml must give, with the largest value a profile allows (None: only "positive").
_LIFETIME_BOUNDS: Final[Mapping[str, tuple[int | None, str]]] = MappingProxyType(
    {
        "authorization_code": (60, "FAPI 2.0 Security Profile section 5.3.2: codes live at most 60 seconds"),
        "par_request_uri": (599, "FAPI 2.0 Security Profile section 5.3.2: request_uri lifetime under 600 s"),
        "access_token": (None, ""),
        "id_token": (None, ""),
        "refresh_token": (None, ""),
        "idempotency_key": (
            86400,
            "OBIE R/W API profile, Idempotency: a key is a replay within the preceding 24 hours",
        ),
    }
)
# fapi.yaml `algorithms` uses; each maps to a list within jose.FAPI_ALGORITHMS.
_ALGORITHM_USES: Final = frozenset(
    {
        "request_object",
        "client_assertion",
        "dpop_proof",
        "id_token",
        "software_statement",
        "registration_request",
        "message_signature",
    }
)


@dataclass(frozen=True, kw_only=True)
class FapiPolicy:
    algorithms: Mapping[str, tuple[str, ...]]
    # clock_skew: the one source of the time windows: every iat/nbf check of a client assertion, request object,
    # DPoP proof, software statement, registration request and message signature allows ``clock_skew_ahead``
    # seconds in the future; client assertions and DPoP proofs may be at most ``max_proof_age`` seconds old.
    clock_skew_ahead: int
    max_proof_age: int
    lifetimes: Mapping[str, int]

    @property
    def idempotency_window(self) -> timedelta:
        """How long an ``x-idempotency-key`` replays its first answer (``lifetimes.idempotency_key``)."""
        return timedelta(seconds=self.lifetimes["idempotency_key"])

    def check_signing_key(self, *, alg: str) -> None:
        """Refuse a gateway signing key whose ``alg`` the rulebook does not list for what it signs: ID tokens
        (``algorithms.id_token``) and response signatures (``algorithms.message_signature``)."""
        for use in ("id_token", "message_signature"):
            if alg not in self.algorithms[use]:
                raise PolicyError(
                    FAPI_FILE,
                    f"algorithms.{use}",
                    f"the gateway's signing key is {alg}, which {use} [{', '.join(self.algorithms[use])}] does not "
                    f"list: list {alg} or rotate to a key of a listed alg",
                )

    def check_settings(self, settings: Settings) -> None:
        """Refuse settings looser than the rulebook (lifetimes longer)."""
        pairs = {
            "code_lifetime": (settings.code_lifetime, self.lifetimes["authorization_code"]),
            "par_lifetime": (settings.par_lifetime, self.lifetimes["par_request_uri"]),
            "access_token_lifetime": (settings.access_token_lifetime, self.lifetimes["access_token"]),
            "id_token_lifetime": (settings.id_token_lifetime, self.lifetimes["id_token"]),
            "refresh_token_lifetime": (settings.refresh_token_lifetime, self.lifetimes["refresh_token"]),
        }
        for name, (value, bound) in pairs.items():
            if value > bound:
                raise PolicyError(
                    FAPI_FILE, name, f"setting OBGW_{name.upper()}={value} exceeds the limit {bound}"
                )


def load_fapi(policies_dir: Path) -> FapiPolicy:
    top = read_policy_file(policies_dir, FAPI_FILE)
    top.keys(required={"version", "algorithms", "clock_skew", "lifetimes"})
    algs_entry = top.child("algorithms")
    algs_entry.keys(required=_ALGORITHM_USES)
    algorithms = {
        # FAPI 2.0 Security Profile section 5.4: nothing outside PS256/ES256/EdDSA, never "none".
        use: algs_entry.string_list(use, choices=jose.FAPI_ALGORITHMS, what="algorithm")
        for use in sorted(_ALGORITHM_USES)
    }
    if algorithms["message_signature"] != ("PS256",):
        algs_entry.fail("message_signature must be [PS256] (OBIE R/W API profile, Message Signing)")
    skew = top.child("clock_skew")
    skew.keys(required={"ahead_seconds", "max_age_seconds"})
    ahead = skew.integer(
        "ahead_seconds",
        minimum=0,
        maximum=60,
        why="FAPI 2.0 Security Profile section 5.3.2.1: reject iat more than 60 s in the future",
    )
    max_age = skew.integer(
        "max_age_seconds", minimum=1, maximum=300, why="RFC 9449 section 11.1: proofs are short-lived"
    )
    life = top.child("lifetimes")
    life.keys(required=_LIFETIME_BOUNDS)
    lifetimes = {
        name: life.integer(name, minimum=1, maximum=bound, why=why)
        for name, (bound, why) in _LIFETIME_BOUNDS.items()
    }
    return FapiPolicy(
        algorithms=MappingProxyType(algorithms),
        clock_skew_ahead=ahead,
        max_proof_age=max_age,
        lifetimes=MappingProxyType(lifetimes),
    )
