"""The consent domain: what each bank customer allowed each TPP to do (OBIE R/W API v3.1.11).

Imports nothing of the gateway or the sandbox (docs/architecture.md section 2); the gateway calls ``consent.service``
and renders ``consent.errors`` as OBIE errors.
"""

from __future__ import annotations

from consent.access import ConsentGrant
from consent.access import check_access
from consent.access import record_access
from consent.audit import GENESIS
from consent.audit import ActorType
from consent.audit import AuditReport
from consent.audit import EventType
from consent.audit import append_event
from consent.audit import verify_chain
from consent.creation import create_account_access_consent
from consent.creation import create_funds_confirmation_consent
from consent.creation import create_payment_consent
from consent.customer_views import ClientConsents
from consent.customer_views import ConsentSummary
from consent.customer_views import HistoryEntry
from consent.customer_views import export_for_customer
from consent.customer_views import list_for_customer
from consent.errors import AccountNotConsented
from consent.errors import ConsentError
from consent.errors import ConsentExpired
from consent.errors import ConsentForbidden
from consent.errors import ConsentInactive
from consent.errors import ConsentNotFound
from consent.errors import IdempotencyConflict
from consent.errors import InvalidAccountSelection
from consent.errors import InvalidConsentDate
from consent.errors import InvalidConsentRequest
from consent.errors import InvalidConsentStatus
from consent.errors import InvalidIdempotencyKey
from consent.errors import InvalidPermissions
from consent.errors import MalformedBody
from consent.errors import MissingConsentField
from consent.errors import MissingHeader
from consent.errors import PermissionNotGranted
from consent.errors import UnsupportedScheme
from consent.lifecycle import PAYMENT_KINDS
from consent.lifecycle import PISP_KINDS
from consent.lifecycle import TRANSITIONS
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import transition
from consent.lifecycle import wire_status
from consent.models import AuditCheckpoint
from consent.models import AuditHead
from consent.models import Consent
from consent.models import ConsentAccount
from consent.models import ConsentEvent
from consent.permissions import DETAIL_FIELDS
from consent.permissions import ENDPOINT_PERMISSIONS
from consent.permissions import OPERATION_PATHS
from consent.permissions import Permission
from consent.permissions import PermissionGroup
from consent.permissions import can_see_pan
from consent.permissions import check_permission_combination
from consent.permissions import credit_debit_filter
from consent.permissions import describe
from consent.permissions import detail_level
from consent.permissions import permits
from consent.status_changes import authorise
from consent.status_changes import consented_accounts
from consent.status_changes import consume
from consent.status_changes import delete
from consent.status_changes import expire_due
from consent.status_changes import get_consent
from consent.status_changes import reject
from consent.status_changes import revoke
from consent.status_changes import revoke_all_for_client

__all__ = [
    "AccountNotConsented",
    "ActorType",
    "AuditCheckpoint",
    "AuditHead",
    "AuditReport",
    "ClientConsents",
    "Consent",
    "ConsentAccount",
    "ConsentError",
    "ConsentEvent",
    "ConsentExpired",
    "ConsentForbidden",
    "ConsentGrant",
    "ConsentInactive",
    "ConsentKind",
    "ConsentNotFound",
    "ConsentStatus",
    "ConsentSummary",
    "DETAIL_FIELDS",
    "ENDPOINT_PERMISSIONS",
    "EventType",
    "GENESIS",
    "HistoryEntry",
    "IdempotencyConflict",
    "InvalidAccountSelection",
    "InvalidConsentDate",
    "InvalidConsentRequest",
    "InvalidConsentStatus",
    "InvalidIdempotencyKey",
    "InvalidPermissions",
    "MalformedBody",
    "MissingConsentField",
    "MissingHeader",
    "OPERATION_PATHS",
    "PAYMENT_KINDS",
    "PISP_KINDS",
    "Permission",
    "PermissionGroup",
    "PermissionNotGranted",
    "TRANSITIONS",
    "UnsupportedScheme",
    "append_event",
    "authorise",
    "can_see_pan",
    "check_access",
    "check_permission_combination",
    "consented_accounts",
    "consume",
    "create_account_access_consent",
    "create_funds_confirmation_consent",
    "create_payment_consent",
    "credit_debit_filter",
    "delete",
    "describe",
    "detail_level",
    "expire_due",
    "export_for_customer",
    "get_consent",
    "list_for_customer",
    "permits",
    "record_access",
    "reject",
    "revoke",
    "revoke_all_for_client",
    "transition",
    "verify_chain",
    "wire_status",
]
