"""The bank's account-information API: every OBIE Read/Write API v3.1.11 AIS resource (docs/obie-notes.md section 2.1) under
``/bank/v1/aisp/...``, answered only to the gateway.

Each route checks the consent context and the permission family of its resource and scopes the accounts
(``sandbox.ais_access``) before its handler runs: ``sandbox.ais_accounts`` (accounts, balances and the derived
resources), ``sandbox.ais_transactions`` and ``sandbox.ais_statements``; every answer is framed by
``sandbox.ais_responses``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import ais_catalogue as catalogue
from sandbox.ais_access import Handler
from sandbox.ais_access import ais_context
from sandbox.ais_access import require
from sandbox.ais_access import scoped_accounts
from sandbox.ais_accounts import account_parties
from sandbox.ais_accounts import account_party
from sandbox.ais_accounts import account_product
from sandbox.ais_accounts import accounts
from sandbox.ais_accounts import balances
from sandbox.ais_accounts import listing
from sandbox.ais_accounts import psu_party
from sandbox.ais_responses import PREFIX
from sandbox.ais_statements import statement
from sandbox.ais_statements import statement_file
from sandbox.ais_statements import statement_transactions
from sandbox.ais_statements import statements
from sandbox.ais_transactions import transactions
from sandbox.services import services


def _route(path: str, family: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        ctx = ais_context(request)
        require(ctx, family)
        async with services(request).db.session() as session:
            accounts = await scoped_accounts(request, ctx, session)
            return await handler(request, ctx, session, accounts)

    return Route(PREFIX + path, endpoint, methods=["GET"])


def routes() -> list[BaseRoute]:
    one = "/accounts/{account_id}"
    stmt = one + "/statements/{statement_id}"
    return [
        _route("/accounts", "accounts", accounts),
        _route(one, "accounts", accounts),
        _route(one + "/balances", "balances", balances),
        _route("/balances", "balances", balances),
        _route(one + "/transactions", "transactions", transactions),
        _route("/transactions", "transactions", transactions),
        _route(one + "/beneficiaries", "beneficiaries", listing("Beneficiary", lambda a, t: catalogue.beneficiaries(a))),
        _route("/beneficiaries", "beneficiaries", listing("Beneficiary", lambda a, t: catalogue.beneficiaries(a))),
        _route(one + "/direct-debits", "direct-debits",
               listing("DirectDebit", lambda a, t: catalogue.direct_debits(a, today=t))),
        _route("/direct-debits", "direct-debits",
               listing("DirectDebit", lambda a, t: catalogue.direct_debits(a, today=t))),
        _route(one + "/standing-orders", "standing-orders",
               listing("StandingOrder", lambda a, t: catalogue.standing_orders(a, today=t))),
        _route("/standing-orders", "standing-orders",
               listing("StandingOrder", lambda a, t: catalogue.standing_orders(a, today=t))),
        _route(one + "/scheduled-payments", "scheduled-payments",
               listing("ScheduledPayment", lambda a, t: catalogue.scheduled_payments(a, today=t))),
        _route("/scheduled-payments", "scheduled-payments",
               listing("ScheduledPayment", lambda a, t: catalogue.scheduled_payments(a, today=t))),
        _route(one + "/statements", "statements", statements),
        _route("/statements", "statements", statements),
        _route(stmt, "statements", statement),
        # docs/obie-notes.md section 4: statement transactions are gated exactly like account transactions.
        _route(stmt + "/transactions", "transactions", statement_transactions),
        _route(stmt + "/file", "statement-file", statement_file),
        _route(one + "/party", "party", account_party),
        _route(one + "/parties", "party", account_parties),
        _route("/party", "party-psu", psu_party),
        _route(one + "/product", "products", account_product),
        _route("/products", "products", account_product),
        _route(one + "/offers", "offers", listing("Offer", lambda a, t: catalogue.offers(a, today=t))),
        _route("/offers", "offers", listing("Offer", lambda a, t: catalogue.offers(a, today=t))),
    ]
