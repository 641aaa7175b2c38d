"""The sandbox bank's tables: customers, accounts (with their holders) and the partner apps the directory knows.

Accounts follow the OBIE ``OBAccount6`` vocabulary (Read/Write API v3.1.11, Account and Transaction API:
``AccountType``, ``AccountSubType``, ``SchemeName``, ``Identification``) so the later account-information
resources (balances, transactions, ...) can hang off ``account_id`` without reshaping this table.
Money is kept as a decimal string: exact, and the way OBIE puts amounts on the wire.
Partner apps keep only public key material: a generated private key is shown once and never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Column
from sqlalchemy import Index
from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from sandbox.db import SandboxBase
from sandbox.db import UTCDateTime
from sandbox.db import utcnow


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Customer(SandboxBase, table=True):
    """A test PSU: who signs in at the bank during authorisation."""

    __tablename__ = "sandbox_customer"

    psu_id: str = Field(primary_key=True, max_length=64)
    username: str = Field(unique=True, index=True, max_length=64)
    # argon2id (docs/architecture.md section 6); the plain sandbox passwords are documented in sandbox.customers.
    password_hash: str = Field(max_length=255)
    name: str = Field(max_length=255)
    created_at: datetime = _ts()


class Account(SandboxBase, table=True):
    __tablename__ = "sandbox_account"

    account_id: str = Field(primary_key=True, max_length=64)
    nickname: str = Field(max_length=70)
    # OBIE OBExternalAccountType1Code: Business | Personal.
    account_type: str = Field(max_length=16)
    # OBIE OBExternalAccountSubType1Code: CurrentAccount | Savings | CreditCard | ...
    account_subtype: str = Field(max_length=32)
    currency: str = Field(default="GBP", max_length=3)
    # UK.OBIE.SortCodeAccountNumber (14 digits: sort code + account number) or UK.OBIE.PAN.
    scheme_name: str = Field(max_length=40)
    identification: str = Field(max_length=256)
    # The name on the account (OBIE OBAccount6/Account/Name).
    holder_name: str = Field(max_length=350)
    opening_balance: str = Field(default="0.00", max_length=32)
    opened_at: datetime = _ts()


class AccountHolder(SandboxBase, table=True):
    """Who may see an account: one row per holder, so a joint account has two."""

    __tablename__ = "sandbox_account_holder"

    account_id: str = Field(primary_key=True, foreign_key="sandbox_account.account_id", max_length=64)
    psu_id: str = Field(primary_key=True, foreign_key="sandbox_customer.psu_id", max_length=64)
    position: int = Field(default=0)


class SoftwareApp(SandboxBase, table=True):
    """A partner's piece of software as the sandbox directory knows it (the SSA is re-issued from this)."""

    __tablename__ = "sandbox_software"

    software_id: str = Field(primary_key=True, max_length=22)
    org_id: str = Field(index=True, max_length=18)
    org_name: str = Field(max_length=255)
    client_name: str = Field(max_length=255)
    description: str = Field(default="", max_length=1024)
    version: str = Field(default="1.0", max_length=32)
    redirect_uris: list[str] = Field(sa_column=Column(JSON, nullable=False))
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    token_endpoint_auth_method: str = Field(max_length=32)
    # Public keys only (RFC 7517): checked on the way in, never a private member.
    jwks: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    tls_client_auth_subject_dn: str | None = Field(default=None, max_length=512)
    client_certificate_pem: str | None = Field(default=None)
    created_at: datetime = _ts()


class LedgerEntry(SandboxBase, table=True):
    """One booked (or pending) entry on an account: the rows ``/transactions`` pages through by booking date.

    Columns follow OBIE ``OBTransaction6`` (Read/Write API v3.1.11, Transactions resource); what a row does not
    hold (bank transaction codes, card scheme, agents) is derived from ``kind`` when it is rendered.
    """

    __tablename__ = "sandbox_ledger_entry"
    __table_args__ = (Index("ix_sandbox_ledger_account_booking", "account_id", "booking_at"),)

    transaction_id: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(foreign_key="sandbox_account.account_id", max_length=64)
    booking_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    value_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # OBEntryStatus1Code: Booked | Pending.
    status: str = Field(max_length=16)
    # OBCreditDebitCode: Credit | Debit; ``amount`` is always positive.
    credit_debit: str = Field(max_length=8)
    amount: str = Field(max_length=32)
    currency: str = Field(default="GBP", max_length=3)
    # What the entry is (card, salary, direct-debit, standing-order, transfer, interest, ...).
    kind: str = Field(max_length=32)
    information: str = Field(max_length=500)
    reference: str | None = Field(default=None, max_length=35)
    merchant_name: str | None = Field(default=None, max_length=350)
    merchant_category: str | None = Field(default=None, max_length=4)
    counterparty_name: str | None = Field(default=None, max_length=350)
    counterparty_scheme: str | None = Field(default=None, max_length=40)
    counterparty_identification: str | None = Field(default=None, max_length=256)
    # Signed running balance after this entry (booked entries only).
    balance_after: str | None = Field(default=None, max_length=32)


class AccountBalance(SandboxBase, table=True):
    """The account's balances as the bank last computed them (OBIE ``OBReadBalance1``), one row per type."""

    __tablename__ = "sandbox_account_balance"

    account_id: str = Field(primary_key=True, foreign_key="sandbox_account.account_id", max_length=64)
    # OBBalanceType1Code: InterimBooked | InterimAvailable | ...
    balance_type: str = Field(primary_key=True, max_length=32)
    # Signed decimal string: negative means the customer owes the bank (Debit on the wire).
    amount: str = Field(max_length=32)
    credit_limit: str | None = Field(default=None, max_length=32)
    as_of: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PaymentOrder(SandboxBase, table=True):
    """A payment order the gateway asked the bank to execute (``sandbox.payments_ledger``).

    ``consent_id`` is unique: the bank executes a consent at most once, whoever asks how often (R/W API
    "Idempotent Payment Order"; the foundation of the gateway's exactly-once payments). Status vocabularies:
    OBIE ``OBTransactionIndividualStatus1Code`` for domestic payments, ``InitiationPending|Failed|Completed`` for
    scheduled payments and standing orders (v3.1.11).
    """

    __tablename__ = "sandbox_payment_order"

    payment_id: str = Field(primary_key=True, max_length=64)
    # domestic-payment | domestic-scheduled-payment | domestic-standing-order
    kind: str = Field(max_length=32)
    consent_id: str = Field(unique=True, index=True, max_length=128)
    idempotency_key: str = Field(max_length=128)
    # SHA-256 of the canonical Initiation: a second call for the same consent must ask for the same payment.
    request_hash: str = Field(max_length=64)
    psu_id: str = Field(max_length=64)
    debtor_account_id: str = Field(foreign_key="sandbox_account.account_id", max_length=64)
    initiation: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    amount: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=40)
    status_reason: str | None = Field(default=None, max_length=64)
    status_reason_description: str | None = Field(default=None, max_length=500)
    # When the next step of the status progression is due (None once the status is final).
    next_step_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # The debit on the debtor account (Pending until settlement, then Booked).
    transaction_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    status_updated_at: datetime = _ts()


class VrpPayment(SandboxBase, table=True):
    """A variable recurring payment the gateway asked the bank to execute (``sandbox.vrp_ledger``).

    A VRP consent yields many payments (OBIE VRP API v3.1.11 ``domestic-vrps``), so unlike ``PaymentOrder`` the
    unique key is (``consent_id``, ``idempotency_key``): each payment executes at most once per key. Statuses:
    ``Pending`` -> ``AcceptedSettlementInProcess`` -> ``AcceptedSettlementCompleted``, or ``Rejected`` with an
    ``OBVRPStatusReasonCode``.
    """

    __tablename__ = "sandbox_vrp_payment"
    __table_args__ = (UniqueConstraint("consent_id", "idempotency_key", name="uq_sandbox_vrp_payment_key"),)

    # DomesticVRPId: at most 40 characters on the wire.
    payment_id: str = Field(primary_key=True, max_length=40)
    consent_id: str = Field(index=True, max_length=128)
    idempotency_key: str = Field(max_length=128)
    # SHA-256 of the canonical Initiation and Instruction: a second call with the key must ask for the same payment.
    request_hash: str = Field(max_length=64)
    psu_id: str = Field(max_length=64)
    debtor_account_id: str = Field(foreign_key="sandbox_account.account_id", max_length=64)
    initiation: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    instruction: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    amount: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=40)
    status_reason: str | None = Field(default=None, max_length=64)
    status_reason_description: str | None = Field(default=None, max_length=256)
    next_step_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # When settlement is expected (the settlement time itself once completed); None when rejected.
    expected_settlement_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # The debit on the debtor account (Pending until settlement, then Booked).
    transaction_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    status_updated_at: datetime = _ts()


class VrpRejectNext(SandboxBase, table=True):
    """A one-shot scenario control: the next VRP payment under this consent is created ``Rejected``
    (``sandbox.scenarios``). The row is deleted by the payment that uses it, in the payment's own transaction."""

    __tablename__ = "sandbox_vrp_reject_next"

    consent_id: str = Field(primary_key=True, max_length=128)
    armed_at: datetime = _ts()
