"""The rulebook in ``policies/``, checked and resolved into lookup tables once at start-up.

docs/architecture.md section 3 step 1: "route -> policy (from policies/routes.yaml, resolved once at start-up into a
dict, not per request)". Three files:

* ``routes.yaml``: per OBIE v3.1.11 operation (docs/obie-notes.md section 2) the token kind, scope, AIS permissions
  (docs/obie-notes.md section 4), rate class, idempotency (docs/obie-notes.md section 5, "x-idempotency-key"), message signing
  (docs/obie-notes.md section 5, "x-jws-signature") and whether the path carries an ``{AccountId}``;
* ``rate-limits.yaml``: limits per TPP tier and rate class, per consent, and the PSD2 RTS Art. 36(5)(b)
  unattended-access rule (docs/obie-notes.md section 10);
* ``fapi.yaml``: accepted algorithms (FAPI 2.0 Security Profile section 5.4), clock skew and lifetimes.

The OBIE documents the gateway serves are the official files of ``openapi/obie/`` keeping exactly the operations
routes.yaml declares (``declared_operations``, read before the specs; ``gateway.contract.derive``).

Every file is checked strictly and the loader fails closed: an unknown key, a missing key, a value of the
wrong type, an operation not in the OpenAPI documents, an operation of them missing here, an unknown permission
or rate class, an unparsable limit string, or a value FAPI forbids raises ``PolicyError`` naming the file, the
entry and the broken rule. Nothing here is parsed per request.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from typing import Final
from typing import Literal

import limits
from limits.strategies import STRATEGIES

from gateway.contract.specs import SECURITY_TOKEN_KIND
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import SpecError
from gateway.contract.specs import SpecOperation
from gateway.contract.specs import read_yaml
from gateway.security import jose
from gateway.settings import Settings

ROUTES_FILE: Final = "routes.yaml"
RATE_LIMITS_FILE: Final = "rate-limits.yaml"
FAPI_FILE: Final = "fapi.yaml"
SUPPORTED_VERSION: Final = 1

TokenKind = Literal["client", "customer"]
TOKEN_KINDS: Final = frozenset({"client", "customer"})
# OBIE scopes (docs/obie-notes.md section 7): one per API.
SCOPES: Final = frozenset({"accounts", "payments", "fundsconfirmations"})
# Who an unattended-access budget is counted for; see rate-limits.yaml `unattended.per`.
UNATTENDED_KEYS: Final = frozenset({"client", "consent", "account", "operation"})

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


class PolicyError(ValueError):
    """A policy file breaks a rule. The message names the file, the entry and the rule."""

    def __init__(self, file: str, entry: str, rule: str) -> None:
        super().__init__(f"{file}: {entry}: {rule}")
        self.file = file
        self.entry = entry
        self.rule = rule


# --------------------------------------------------------------------------- resolved policy objects


@dataclass(frozen=True, kw_only=True)
class RoutePolicy:
    """What one OBIE operation requires. Built at start-up; the pipeline only reads it."""

    operation_id: str
    api: str
    method: str
    path: str  # full path template, e.g. /open-banking/v3.1/aisp/accounts/{AccountId}
    token: TokenKind
    scope: str
    # Conjunction of alternatives: the consent must share at least one permission with every set (AISP
    # profile "Permissions"; transactions need Basic/Detail and Credits/Debits). Empty: no consent permission
    # is involved (client-token routes, payments, funds confirmation).
    permissions: tuple[frozenset[str], ...]
    rate_class: str
    idempotent: bool
    signed_request: bool
    signed_response: bool
    account_scoped: bool

    def permits(self, granted: Collection[str]) -> bool:
        """True when ``granted`` (a consent's permissions) covers this route."""
        return all(not alternatives.isdisjoint(granted) for alternatives in self.permissions)


@dataclass(frozen=True, kw_only=True)
class Limit:
    """A parsed limit string: every item must hold."""

    text: str
    items: tuple[limits.RateLimitItem, ...]


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


@dataclass(frozen=True, kw_only=True)
class Policies:
    routes: Mapping[tuple[str, str], RoutePolicy]
    by_operation_id: Mapping[str, RoutePolicy]
    rate_limits: RateLimits
    fapi: FapiPolicy

    def route(self, method: str, path_template: str) -> RoutePolicy | None:
        """The policy for (method, full path template), e.g. ("GET", "/open-banking/v3.1/aisp/accounts")."""
        return self.routes.get((method.upper(), path_template))

    def operations_at(self, path_template: str) -> dict[str, str]:
        """``method -> operationId`` of every operation at the full path template ``path_template``."""
        return {p.method: p.operation_id for p in self.routes.values() if p.path == path_template}

    def for_operation(self, operation: SpecOperation) -> RoutePolicy:
        """The policy of a matched spec operation. ``load_policies`` guarantees one exists for every spec
        operation, so a miss is a programming error and raises ``KeyError`` (never "no policy = allow")."""
        return self.routes[operation.key]


# --------------------------------------------------------------------------- checking helpers


class _Entry:
    """One mapping of a policy file being checked, with the words to name it in errors."""

    def __init__(self, file: str, entry: str, value: Any) -> None:
        self.file = file
        self.entry = entry
        if not isinstance(value, dict):
            self.fail(f"expected a mapping, got {type(value).__name__}")
        self.value: dict[str, Any] = value

    def fail(self, rule: str) -> None:
        raise PolicyError(self.file, self.entry, rule)

    def keys(self, *, required: Collection[str], optional: Collection[str] = ()) -> None:
        unknown = sorted(set(self.value) - set(required) - set(optional))
        if unknown:
            self.fail(f"unknown key(s) {', '.join(unknown)}")
        missing = sorted(set(required) - set(self.value))
        if missing:
            self.fail(f"missing key(s) {', '.join(missing)}")

    def child(self, key: str) -> _Entry:
        return _Entry(self.file, f"{self.entry}.{key}", self.value[key])

    def boolean(self, key: str) -> bool:
        value = self.value[key]
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false, got {value!r}")
        return bool(value)

    def string(self, key: str, *, choices: Collection[str] | None = None) -> str:
        value = self.value[key]
        if not isinstance(value, str) or not value:
            self.fail(f"{key} must be a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            self.fail(f"{key} {value!r} is not one of {', '.join(sorted(choices))}")
        return str(value)

    def integer(self, key: str, *, minimum: int, maximum: int | None = None, why: str = "") -> int:
        value = self.value[key]
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"{key} must be an integer, got {value!r}")
        if value < minimum:
            self.fail(f"{key} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            self.fail(f"{key} must be at most {maximum}{' (' + why + ')' if why else ''}, got {value}")
        return int(value)

    def string_list(
        self, key: str, *, choices: Collection[str] | None = None, what: str = "value"
    ) -> tuple[str, ...]:
        value = self.value[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{key} must be a non-empty list of strings, got {value!r}")
        if len(set(value)) != len(value):
            self.fail(f"{key} lists a {what} twice")
        if choices is not None:
            unknown = [v for v in value if v not in choices]
            if unknown:
                self.fail(f"unknown {what}(s) {', '.join(unknown)} in {key}")
        return tuple(value)

    def limit(self, key: str) -> Limit:
        return _parse_limit(self, key, self.value[key])


def _parse_limit(entry: _Entry, key: str, text: Any) -> Limit:
    if not isinstance(text, str):
        entry.fail(f'{key} must be a limit string like "50/second;1000/minute", got {text!r}')
    try:
        items = tuple(limits.parse_many(text))
    except ValueError as exc:
        entry.fail(f"{key} is not a valid limit string {text!r} ({exc})")
        raise  # unreachable: fail() raises
    if not items:
        entry.fail(f"{key} is not a valid limit string {text!r}")
    if any(item.amount < 1 for item in items):
        entry.fail(f"{key} {text!r}: every limit must allow at least 1 request")
    return Limit(text=text, items=items)


def _read(policies_dir: Path, name: str) -> _Entry:
    try:
        data: Any = read_yaml(policies_dir / name)
    except SpecError as exc:
        raise PolicyError(name, "(file)", str(exc)) from exc
    top = _Entry(name, "(top level)", data)
    version = top.value.get("version")
    if version != SUPPORTED_VERSION:
        top.fail(f"version must be {SUPPORTED_VERSION}, got {version!r}")
    return top


def ais_permissions(specs: OpenApiSpecs) -> frozenset[str]:
    """The 21 OBIE AIS permission codes, as the account-info document enumerates them
    (OBReadConsent1.Data.Permissions, OBExternalPermissions1Code; docs/obie-notes.md section 4)."""
    schemas = specs.apis["accounts"].document["components"]["schemas"]
    return frozenset(
        schemas["OBReadConsent1"]["properties"]["Data"]["properties"]["Permissions"]["items"]["enum"]
    )


# --------------------------------------------------------------------------- the three files


def _load_rate_limits(policies_dir: Path) -> RateLimits:
    top = _read(policies_dir, RATE_LIMITS_FILE)
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


def _load_fapi(policies_dir: Path) -> FapiPolicy:
    top = _read(policies_dir, FAPI_FILE)
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


def _permissions(entry: _Entry, permission_names: frozenset[str]) -> tuple[frozenset[str], ...]:
    block = entry.child("permissions")
    if "any_of" in block.value:
        block.keys(required={"any_of"})
        return (frozenset(block.string_list("any_of", choices=permission_names, what="permission")),)
    block.keys(required={"all_of"})
    sets = block.value["all_of"]
    if not isinstance(sets, list) or not sets:
        block.fail("all_of must be a non-empty list of {any_of: [...]} entries")
    out = []
    for index, item in enumerate(sets):
        alternative = _Entry(entry.file, f"{block.entry}.all_of[{index}]", item)
        alternative.keys(required={"any_of"})
        out.append(frozenset(alternative.string_list("any_of", choices=permission_names, what="permission")))
    return tuple(out)


def _route_entries(policies_dir: Path) -> list[_Entry]:
    top = _read(policies_dir, ROUTES_FILE)
    top.keys(required={"version", "routes"})
    entries = top.value["routes"]
    if not isinstance(entries, list) or not entries:
        top.fail("routes must be a non-empty list")
    out = []
    for index, raw in enumerate(entries):
        label = f"routes[{index}]"
        if isinstance(raw, dict) and isinstance(raw.get("operation"), str):
            label += f" ({raw['operation']})"
        out.append(_Entry(ROUTES_FILE, label, raw))
    return out


def _declared_name(entry: _Entry) -> str:
    """The operation an entry names: its operationId, or ``"METHOD /full/path"`` (``gateway.contract.derive``)."""
    if "operation" in entry.value:
        if "method" in entry.value or "path" in entry.value:
            entry.fail("name the operation by operation or by method + path, not both")
        return entry.string("operation")
    if "method" not in entry.value or "path" not in entry.value:
        entry.fail("missing key(s): operation, or method and path")
    return f"{entry.string('method').upper()} {entry.string('path')}"


def declared_operations(policies_dir: Path) -> frozenset[str]:
    """The operations routes.yaml declares, named as ``gateway.contract.derive.served_document`` takes them: the
    served OBIE documents keep exactly these. Read before the specs are loaded, since ``load_policies`` checks
    routes.yaml against them; raises ``PolicyError``."""
    return frozenset(_declared_name(entry) for entry in _route_entries(policies_dir))


def _operation_for(entry: _Entry, specs: OpenApiSpecs) -> SpecOperation:
    name = _declared_name(entry)
    if "operation" in entry.value:
        op = specs.by_operation_id(name)
        if op is None:
            entry.fail(f"operation {name} is not in the OpenAPI documents")
        assert op is not None
        return op
    for op in specs.operations():
        if f"{op.method} {op.full_path}" == name:
            return op
    entry.fail(f"{name} is not an operation in the OpenAPI documents")
    raise AssertionError("unreachable")


_ROUTE_KEYS: Final = frozenset(
    {"token", "scope", "rate_class", "idempotent", "signed_request", "signed_response", "account_scoped"}
)


def _load_routes(
    policies_dir: Path, *, specs: OpenApiSpecs, rate_classes: frozenset[str]
) -> dict[tuple[str, str], RoutePolicy]:
    permission_names = ais_permissions(specs)
    routes: dict[tuple[str, str], RoutePolicy] = {}
    for entry in _route_entries(policies_dir):
        entry.keys(required=_ROUTE_KEYS, optional={"operation", "method", "path", "permissions"})
        op = _operation_for(entry, specs)
        if op.key in routes:
            entry.fail(f"{op.operation_id} ({op.method} {op.full_path}) is listed twice")
        token = entry.string("token", choices=TOKEN_KINDS)
        # The OBIE document's security requirement decides the token kind (docs/obie-notes.md section 2 legend).
        if token != SECURITY_TOKEN_KIND[op.security_scheme]:
            entry.fail(
                f"token {token} contradicts the OpenAPI security scheme {op.security_scheme} "
                f"(needs {SECURITY_TOKEN_KIND[op.security_scheme]})"
            )
        scope = entry.string("scope", choices=SCOPES)
        if scope not in op.scopes:
            entry.fail(
                f"scope {scope} is not the scope the OpenAPI document declares ({', '.join(op.scopes)})"
            )
        # docs/obie-notes.md section 4: AIS data endpoints are gated by consent permissions; nothing else is.
        needs_permissions = op.api == "accounts" and token == "customer"
        if needs_permissions and "permissions" not in entry.value:
            entry.fail("permissions are required on account-information customer routes (docs/obie-notes.md section 4)")
        if not needs_permissions and "permissions" in entry.value:
            entry.fail("permissions apply only to account-information customer routes")
        permissions = _permissions(entry, permission_names) if needs_permissions else ()
        rate_class = entry.string("rate_class", choices=rate_classes)
        idempotent = entry.boolean("idempotent")
        if idempotent and op.method != "POST":
            entry.fail("idempotent applies to POST only (x-idempotency-key, docs/obie-notes.md section 5)")
        signed_request = entry.boolean("signed_request")
        if signed_request and op.method not in ("POST", "PUT"):
            entry.fail("signed_request needs a request body (POST or PUT)")
        account_scoped = entry.boolean("account_scoped")
        if account_scoped != ("AccountId" in op.path_params):
            entry.fail(f"account_scoped must be {'AccountId' in op.path_params} for path {op.path}")
        routes[op.key] = RoutePolicy(
            operation_id=op.operation_id,
            api=op.api,
            method=op.method,
            path=op.full_path,
            token=token,  # type: ignore[arg-type]
            scope=scope,
            permissions=permissions,
            rate_class=rate_class,
            idempotent=idempotent,
            signed_request=signed_request,
            signed_response=entry.boolean("signed_response"),
            account_scoped=account_scoped,
        )
    missing = [op for op in specs.operations() if op.key not in routes]
    if missing:
        # Fail closed: an operation we publish must have a rule, or the pipeline could not enforce it (the
        # served documents are derived from routes.yaml, so only specs loaded from another list get here).
        names = ", ".join(f"{op.operation_id} ({op.method} {op.full_path})" for op in missing)
        raise PolicyError(
            ROUTES_FILE, "routes", f"operation(s) in the OpenAPI documents without a policy: {names}"
        )
    return routes


def load_policies(policies_dir: Path, *, specs: OpenApiSpecs) -> Policies:
    """Read, check and resolve ``policies/``. Call once at start-up; raises ``PolicyError``."""
    rate_limits = _load_rate_limits(policies_dir)
    fapi = _load_fapi(policies_dir)
    routes = _load_routes(policies_dir, specs=specs, rate_classes=rate_limits.classes)
    return Policies(
        routes=MappingProxyType(routes),
        by_operation_id=MappingProxyType({p.operation_id: p for p in routes.values()}),
        rate_limits=rate_limits,
        fapi=fapi,
    )
