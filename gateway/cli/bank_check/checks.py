"""The checks of ``obgw bank check``: every operation of the bank-backend contract called with a correctly signed
context and its answer validated against the contract, then the contexts an adapter must refuse
(``openapi/bank-backend.yaml`` description, "The consent context"; docs/bank-integration.md section 4).

Each check is one row: passed, failed (with the reason) or skipped (sandbox-only operations, unless asked).
A check that cannot run because an earlier one failed fails too, naming what it needed: nothing passes unseen.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final

import httpx

from gateway.backend.bank import CONTEXT_HEADER
from gateway.cli.bank_check import samples
from gateway.cli.bank_check.contract import BankContract
from gateway.cli.bank_check.contract import Operation
from gateway.cli.bank_check.signing import ContextSigner

PASS: Final = "pass"
FAIL: Final = "fail"
SKIP: Final = "skip"
# Every permission of the AIS families, so that every resource may be asked for.
ALL_PERMISSIONS: Final = (
    "ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesDetail", "ReadDirectDebits", "ReadOffers", "ReadParty",
    "ReadPartyPSU", "ReadProducts", "ReadScheduledPaymentsDetail", "ReadStandingOrdersDetail", "ReadStatementsDetail",
    "ReadTransactionsCredits", "ReadTransactionsDebits", "ReadTransactionsDetail",
)
COLLECTIONS: Final = ("domestic-payments", "domestic-scheduled-payments", "domestic-standing-orders", "domestic-vrps")


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    name: str
    operation: str
    outcome: str
    reason: str = ""

    def as_json(self) -> dict[str, str]:
        return {"check": self.name, "operation": self.operation, "outcome": self.outcome, "reason": self.reason}


class Blocked(Exception):
    """A check needs what an earlier one should have given (the customer, an account, a payment)."""


@dataclass(kw_only=True)
class _Found:
    """What the answers so far gave the later checks."""

    psu_id: str | None = None
    accounts: list[dict[str, Any]] = field(default_factory=list)
    statement_id: str | None = None
    payments: dict[str, tuple[str, str]] = field(default_factory=dict)  # collection -> (consent id, payment id)


def _new_id(what: str) -> str:
    return f"bank-check-{what}-{uuid.uuid4().hex[:12]}"


class BankCheck:
    """Runs every check over ``client`` (its ``base_url`` is the adapter's); ``run()`` returns the rows."""

    def __init__(self, *, client: httpx.AsyncClient, signer: ContextSigner, contract: BankContract, username: str,
                 password: str, sandbox: bool) -> None:
        self._client = client
        self._signer = signer
        self._contract = contract
        self._username = username
        self._password = password
        self._sandbox = sandbox
        self._found = _Found()
        self._results: list[CheckResult] = []
        self._exercised: set[str] = set()

    # ------------------------------------------------------------------ plumbing

    def _record(self, name: str, operation: str, outcome: str, reason: str = "") -> None:
        self._results.append(CheckResult(name=name, operation=operation, outcome=outcome, reason=reason))

    async def _send(self, op: Operation, *, path: str, token: str | None, query: list[tuple[str, str]] | None = None,
                    body: dict[str, Any] | None = None) -> httpx.Response:
        self._exercised.add(op.operation_id)
        headers = {"accept": "application/json", "x-fapi-interaction-id": str(uuid.uuid4())}
        if token is not None:
            headers[CONTEXT_HEADER] = token
        content = None
        if body is not None:
            headers["content-type"] = "application/json"
            content = json.dumps(body).encode()
        return await self._client.request(op.method, path, params=query or None, headers=headers, content=content)

    def _conformance(self, op: Operation, path: str, answer: httpx.Response) -> str | None:
        return self._contract.check_answer(op.method, path, status=answer.status_code, body=answer.content,
                                           content_type=answer.headers.get("content-type", ""),
                                           headers=dict(answer.headers))

    async def _check(self, name: str, operation_id: str, *, path: Callable[[], str], token: Callable[[], str | None],
                     expect: int | tuple[int, ...], query: list[tuple[str, str]] | None = None,
                     body: Callable[[], dict[str, Any]] | None = None) -> httpx.Response | None:
        """One row: the call, its status among ``expect`` and its answer valid under the contract."""
        op = self._contract.operation(operation_id)
        expected = (expect,) if isinstance(expect, int) else expect
        try:
            target = path()
            answer = await self._send(op, path=target, token=token(), query=query,
                                      body=body() if body is not None else None)
        except Blocked as exc:
            self._exercised.add(operation_id)
            self._record(name, operation_id, FAIL, f"not run: {exc}")
            return None
        except httpx.TimeoutException:
            self._record(name, operation_id, FAIL, "no answer within the gateway's timeout (10 s)")
            return None
        except httpx.HTTPError as exc:
            self._record(name, operation_id, FAIL, f"no answer: {exc!r}")
            return None
        if answer.status_code not in expected:
            detail = answer.text[:200].replace("\n", " ")
            self._record(name, operation_id, FAIL,
                         f"answered {answer.status_code}, expected {' or '.join(map(str, expected))}: {detail}")
            return None
        problem = self._conformance(op, target, answer)
        if problem is not None:
            self._record(name, operation_id, FAIL, f"answer does not match the contract: {problem}")
            return None
        self._record(name, operation_id, PASS)
        return answer

    def _psu(self) -> str:
        if self._found.psu_id is None:
            raise Blocked("needs the signed-in customer (BankAuthenticatePsu)")
        return self._found.psu_id

    def _account(self, index: int = 0) -> dict[str, Any]:
        if len(self._found.accounts) <= index:
            raise Blocked("needs the customer's accounts (BankListCustomerAccounts)")
        return self._found.accounts[index]

    def _ais_token(self, **changes: Any) -> str:
        claims: dict[str, Any] = {
            "purpose": "ais", "psu_id": self._psu(), "consent_id": _new_id("consent"),
            "account_ids": [str(a["account_id"]) for a in self._found.accounts], "permissions": list(ALL_PERMISSIONS),
        }
        claims.update(changes)
        return self._signer.token(**claims)

    # ------------------------------------------------------------------ the operations

    async def _customer_pages(self) -> None:
        await self._check("ready", "BankHealth", path=lambda: "/healthz", token=lambda: None, expect=200)
        answer = await self._check(
            "signs the test customer in", "BankAuthenticatePsu", path=lambda: "/bank/v1/psu-authentications",
            token=lambda: self._signer.token(purpose="psu-authentication"), expect=200,
            body=lambda: {"username": self._username, "password": self._password})
        if answer is not None:
            self._found.psu_id = str(answer.json()["psu_id"])
        await self._check(
            "refuses a wrong password", "BankAuthenticatePsu", path=lambda: "/bank/v1/psu-authentications",
            token=lambda: self._signer.token(purpose="psu-authentication"), expect=401,
            body=lambda: {"username": self._username, "password": "not-" + self._password})
        answer = await self._check(
            "lists the customer's accounts", "BankListCustomerAccounts",
            path=lambda: f"/bank/v1/customers/{self._psu()}/accounts",
            token=lambda: self._signer.token(purpose="account-directory", psu_id=self._psu()), expect=200)
        if answer is not None:
            self._found.accounts = list(answer.json()["accounts"])

    def _ais_path(self, op: Operation) -> str:
        path = op.path
        if "{AccountId}" in path:
            path = path.replace("{AccountId}", str(self._account()["account_id"]))
        if "{StatementId}" in path:
            if self._found.statement_id is None:
                raise Blocked("needs a statement of the account (BankGetAccountsAccountIdStatements)")
            path = path.replace("{StatementId}", self._found.statement_id)
        return path

    async def _accounts(self) -> None:
        for op in self._contract.operations:
            if "ais" not in op.purposes:
                continue
            answer = await self._check(f"answers {op.path.removeprefix('/bank/v1/aisp')}", op.operation_id,
                                       path=lambda op=op: self._ais_path(op), token=self._ais_token, expect=200)
            if op.operation_id == "BankGetAccountsAccountIdStatements" and answer is not None:
                statements = answer.json().get("Data", {}).get("Statement") or []
                if statements:
                    self._found.statement_id = str(statements[0]["StatementId"])

    def _pis_token(self, consent_id: str, **changes: Any) -> str:
        claims = {"purpose": "pis", "psu_id": self._psu(), "consent_id": consent_id,
                  "account_id": str(self._account()["account_id"])}
        claims.update(changes)
        return self._signer.token(**claims)

    def _execution(self, collection: str, consent_id: str, key: str) -> dict[str, Any]:
        currency = str(self._account()["currency"])
        body: dict[str, Any] = {"ConsentId": consent_id, "IdempotencyKey": key,
                                "Initiation": samples.initiation(collection, currency=currency, reference=key)}
        if collection == "domestic-vrps":
            body["Instruction"] = samples.instruction(currency=currency, reference=key)
        return body

    async def _payments(self) -> None:
        for collection in COLLECTIONS:
            create = self._contract.match("POST", f"/bank/v1/pisp/{collection}")
            read = self._contract.match("GET", f"/bank/v1/pisp/{collection}/x")
            details = self._contract.match("GET", f"/bank/v1/pisp/{collection}/x/payment-details")
            assert create is not None and read is not None and details is not None, collection
            consent_id, key = _new_id("consent"), _new_id("key")
            answer = await self._check(
                f"executes a {collection} payment", create.operation_id, path=lambda c=collection: f"/bank/v1/pisp/{c}",
                token=lambda c=consent_id: self._pis_token(c), expect=201,
                body=lambda c=collection, i=consent_id, k=key: self._execution(c, i, k))
            payment_id = str(answer.json()["Data"][samples.ID_FIELDS[collection]]) if answer is not None else None
            if payment_id is not None:
                self._found.payments[collection] = (consent_id, payment_id)
            again = await self._check(
                f"answers the same {collection} execution again with the first outcome (200)", create.operation_id,
                path=lambda c=collection: f"/bank/v1/pisp/{c}", token=lambda c=consent_id: self._pis_token(c),
                expect=200, body=lambda c=collection, i=consent_id, k=key: self._execution(c, i, k))
            if again is not None and payment_id is not None:
                repeated = str(again.json()["Data"].get(samples.ID_FIELDS[collection]))
                if repeated != payment_id:
                    self._results[-1] = CheckResult(
                        name=self._results[-1].name, operation=create.operation_id, outcome=FAIL,
                        reason=f"executed twice: the repeat answered payment {repeated}, the first {payment_id}")
            for op, tail in ((read, ""), (details, "/payment-details")):
                await self._check(
                    f"reads the {collection} payment{' details' if tail else ''}", op.operation_id,
                    path=lambda c=collection, t=tail: f"/bank/v1/pisp/{c}/{self._payment(c)[1]}{t}",
                    token=lambda c=collection: self._pis_token(self._payment(c)[0]), expect=200)

    def _payment(self, collection: str) -> tuple[str, str]:
        found = self._found.payments.get(collection)
        if found is None:
            raise Blocked(f"needs an executed {collection} payment")
        return found

    def _funds_path(self) -> str:
        return f"/bank/v1/accounts/{self._account()['account_id']}/funds"

    async def _funds(self) -> None:
        for purpose in ("pis", "cbpii"):
            await self._check(
                f"confirms funds ({purpose})", "BankCheckFunds", path=self._funds_path,
                token=lambda p=purpose: self._signer.token(purpose=p, psu_id=self._psu(),
                                                          account_id=str(self._account()["account_id"])),
                expect=200, query=None if not self._found.accounts else
                [("amount", "1.00"), ("currency", str(self._account()["currency"]))])

    async def _scenarios(self) -> None:
        sandbox_only = [op for op in self._contract.operations if op.sandbox_only]
        if not self._sandbox:
            for op in sandbox_only:
                self._exercised.add(op.operation_id)
                self._record(f"sandbox scenario {op.path}", op.operation_id, SKIP, "sandbox only (run with --sandbox)")
            return
        token = lambda: self._signer.token(purpose="scenario")  # noqa: E731
        await self._check("settles a payment now", "BankSandboxSettlePayment",
                          path=lambda: f"/bank/v1/sandbox/payments/{self._payment('domestic-payments')[1]}/settle",
                          token=token, expect=200)
        consent_id, key = _new_id("consent"), _new_id("key")
        created = await self._client.post(
            "/bank/v1/pisp/domestic-payments", json=self._execution("domestic-payments", consent_id, key),
            headers={CONTEXT_HEADER: self._pis_token(consent_id)}) if self._found.accounts else None
        fresh = created.json()["Data"]["DomesticPaymentId"] if created is not None and created.status_code == 201 else ""
        await self._check("rejects a pending payment", "BankSandboxRejectPayment",
                          path=lambda: f"/bank/v1/sandbox/payments/{fresh or 'none-executed'}/reject", token=token,
                          expect=200)
        await self._check("arms reject-next for a VRP consent", "BankSandboxRejectNextVrp",
                          path=lambda: f"/bank/v1/sandbox/consents/{_new_id('consent')}/reject-next", token=token,
                          expect=200)

    # ------------------------------------------------------------------ the refusals

    async def _refusals(self) -> None:
        one = "BankGetAccountsAccountId"

        def account_path() -> str:
            return f"/bank/v1/aisp/accounts/{self._account()['account_id']}"

        def ais_claims() -> dict[str, Any]:
            return {"purpose": "ais", "psu_id": self._psu(), "consent_id": _new_id("consent"),
                    "account_ids": [str(self._account()["account_id"])], "permissions": list(ALL_PERMISSIONS)}

        now_claims = self._signer.claims
        cases: list[tuple[str, Callable[[], str | None]]] = [
            ("refuses a call without x-obgw-context", lambda: None),
            ("refuses a context with a bad signature", lambda: self._signer.forged(**ais_claims())),
            ("refuses an unsigned context (alg none)", lambda: self._signer.unsigned(**ais_claims())),
            ("refuses an expired context", lambda: self._signer.token(
                **ais_claims(), iat=now_claims()["iat"] - 120, exp=now_claims()["iat"] - 60)),
            ("refuses a context for another audience", lambda: self._signer.token(**ais_claims(), aud="another-bank")),
            ("refuses a context from another issuer", lambda: self._signer.token(
                **ais_claims(), iss="https://not-the-gateway.example")),
            ("refuses a context for another purpose", lambda: self._signer.token(**{**ais_claims(), "purpose": "pis"})),
            ("refuses a context living longer than 300 s", lambda: self._signer.token(
                **ais_claims(), exp=now_claims()["iat"] + 3600)),
        ]
        for name, token in cases:
            await self._check(name, one, path=account_path, token=token, expect=401)
        await self._check("refuses another consent's account (403)", one,
                          path=lambda: f"/bank/v1/aisp/accounts/{self._other_account()}",
                          token=lambda: self._signer.token(**ais_claims()), expect=403)
        await self._check("refuses another customer's account list (403)", "BankListCustomerAccounts",
                          path=lambda: f"/bank/v1/customers/{self._psu()}/accounts",
                          token=lambda: self._signer.token(purpose="account-directory", psu_id=_new_id("customer")),
                          expect=403)
        await self._check("hides another consent's payment (404)", "BankReadDomesticPayment",
                          path=lambda: f"/bank/v1/pisp/domestic-payments/{self._payment('domestic-payments')[1]}",
                          token=lambda: self._pis_token(_new_id("consent")), expect=404)
        await self._check("refuses funds on an account the context does not name (403)", "BankCheckFunds",
                          path=lambda: f"/bank/v1/accounts/{self._other_account()}/funds",
                          token=lambda: self._signer.token(purpose="cbpii", psu_id=self._psu(),
                                                           account_id=str(self._account()["account_id"])),
                          query=[("amount", "1.00"), ("currency", "GBP")], expect=403)
        await self._replay(one, account_path, ais_claims)

    def _other_account(self) -> str:
        """An account the context does not list: the customer's second one, else an id nobody holds."""
        return str(self._account(1)["account_id"]) if len(self._found.accounts) > 1 else _new_id("account")[:40]

    async def _replay(self, operation_id: str, path: Callable[[], str], claims: Callable[[], dict[str, Any]]) -> None:
        name = "refuses a replayed context (jti single use)"
        try:
            target, token = path(), self._signer.token(**claims())
        except Blocked as exc:
            self._record(name, operation_id, FAIL, f"not run: {exc}")
            return
        op = self._contract.operation(operation_id)
        try:
            first = await self._send(op, path=target, token=token)
            second = await self._send(op, path=target, token=token)
        except httpx.HTTPError as exc:
            self._record(name, operation_id, FAIL, f"no answer: {exc!r}")
            return
        if first.status_code != 200:
            self._record(name, operation_id, FAIL, f"the first use answered {first.status_code}, expected 200")
        elif second.status_code != 401:
            self._record(name, operation_id, FAIL, f"the second use of the same jti answered {second.status_code}, "
                                                   "expected 401")
        elif (problem := self._conformance(op, target, second)) is not None:
            self._record(name, operation_id, FAIL, f"answer does not match the contract: {problem}")
        else:
            self._record(name, operation_id, PASS)

    # ------------------------------------------------------------------ the whole run

    async def run(self) -> list[CheckResult]:
        await self._customer_pages()
        await self._accounts()
        await self._payments()
        await self._funds()
        await self._scenarios()
        await self._refusals()
        for op in self._contract.operations:
            if op.operation_id not in self._exercised:
                self._record(f"covers {op.method} {op.path}", op.operation_id, FAIL,
                             "the contract declares it but no check called it")
        return list(self._results)


def passed(results: list[CheckResult]) -> bool:
    return bool(results) and all(r.outcome != FAIL for r in results)
