"""The consent service: every operation on a consent, gathered in one namespace for callers.

Each operation lives in the module of its concept and is one database transaction with its audit event:

* ``consent.creation``: account-access, payment-order and funds-confirmation consents (idempotency, R/W API
  v3.1.11 "Idempotency", docs/obie-notes.md section 5);
* ``consent.status_changes``: the customer's decision, revocation, the TPP's delete, consumption and expiry;
* ``consent.access``: the resource pipeline's consent check and the log of served calls (docs/architecture.md
  section 3, step 4);
* ``consent.customer_views``: what the customer's dashboard shows and exports;
* ``consent.records``: loading and conditional status updates they share.

Contract for callers: pass a session whose factory has ``expire_on_commit=False`` (the gateway's has). Each
mutating function commits on success and rolls back on failure, so the state change and its audit event are
stored together or not at all; after such a rollback, objects loaded in that session are expired and must be
reloaded (refusals found before any write, the usual case, roll nothing back). The service never calls the
bank: the customer's accounts come in as ``available_account_ids``.
"""

from __future__ import annotations

from consent.access import KIND_ENDPOINTS
from consent.access import Access
from consent.access import ConsentGrant
from consent.access import check_access
from consent.access import record_access
from consent.access import record_accesses
from consent.account_changes import accounts_can_leave
from consent.account_changes import removable_account
from consent.account_changes import stop_sharing_account
from consent.creation import create_account_access_consent
from consent.creation import create_funds_confirmation_consent
from consent.creation import create_payment_consent
from consent.customer_views import ClientConsents
from consent.customer_views import ConsentSummary
from consent.customer_views import HistoryEntry
from consent.customer_views import export_for_customer
from consent.customer_views import list_for_customer
from consent.status_changes import authorise
from consent.status_changes import check_owned
from consent.status_changes import consented_accounts
from consent.status_changes import consume
from consent.status_changes import delete
from consent.status_changes import expire_due
from consent.status_changes import get_consent
from consent.status_changes import reauthorise
from consent.status_changes import reject
from consent.status_changes import revoke
from consent.status_changes import revoke_all_for_client

__all__ = [
    "KIND_ENDPOINTS",
    "Access",
    "ClientConsents",
    "ConsentGrant",
    "ConsentSummary",
    "HistoryEntry",
    "authorise",
    "check_owned",
    "check_access",
    "consented_accounts",
    "consume",
    "create_account_access_consent",
    "create_funds_confirmation_consent",
    "create_payment_consent",
    "delete",
    "expire_due",
    "export_for_customer",
    "get_consent",
    "list_for_customer",
    "record_access",
    "record_accesses",
    "reauthorise",
    "reject",
    "accounts_can_leave",
    "removable_account",
    "revoke",
    "stop_sharing_account",
    "revoke_all_for_client",
]
