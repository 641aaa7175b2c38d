"""The documented test customers of the sandbox bank, and the idempotent seed that puts them in the database.

Sandbox only (docs/architecture.md section 5): these passwords are published on purpose so developers can walk through
an authorisation. Production mode refuses to start with the sandbox.

| username | password         | name            | what they have                                                   |
| -------- | ---------------- | --------------- | ---------------------------------------------------------------- |
| alice    | alice-wonderland | Alice Andrews   | personal current account (salary in, card spending out), savings, |
|          |                  |                 | and the joint current account with bob                           |
| bob      | bob-builder      | Bob Baker       | the joint current account with alice, his own current account    |
| carol    | carol-singer     | Carol Carter    | a credit card (``UK.OBIE.PAN``) and a current account             |
| dave     | dave-bakery      | Dave Dawson     | a business current account (Dawson's Bakery Ltd) and business savings |
| erin     | erin-accounts    | Erin Evans      | many accounts: two current, three savings, a credit card          |

Identifiers are deterministic (UUID v5 from a fixed namespace), so a ``psu_id`` or ``account_id`` seen once
stays valid across restarts and fresh databases. Password hashes are computed once (argon2id, the parameters of
``sandbox.passwords``) and kept here, so start-up never spends time hashing; a test checks each one against the
documented password.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from sandbox.db import SandboxDatabase
from sandbox.models import Account
from sandbox.models import AccountHolder
from sandbox.models import Customer

SEED_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:obgw:sandbox:seed")

SORT_CODE_SCHEME = "UK.OBIE.SortCodeAccountNumber"
PAN_SCHEME = "UK.OBIE.PAN"


@dataclass(frozen=True, kw_only=True)
class TestCustomer:
    username: str
    password: str
    password_hash: str
    name: str
    summary: str

    @property
    def psu_id(self) -> str:
        return customer_id(username=self.username)


@dataclass(frozen=True, kw_only=True)
class TestAccount:
    key: str
    nickname: str
    holder_name: str
    account_type: str
    account_subtype: str
    scheme_name: str
    identification: str
    opening_balance: str
    holders: tuple[str, ...]
    currency: str = "GBP"

    @property
    def account_id(self) -> str:
        return account_id(key=self.key)


def customer_id(*, username: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"customer:{username}"))


def account_id(*, key: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"account:{key}"))


def masked_identification(*, scheme_name: str, identification: str) -> str:
    """Only the last four characters are shown to people choosing accounts (OBIE PAN masking guidance)."""
    return "****" + identification[-4:]


CUSTOMERS: tuple[TestCustomer, ...] = (
    TestCustomer(
        username="alice",
        password="alice-wonderland",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$ZAU/5UnPg7Wr1LsmuKwc7Q$BpBqaAE35zn44qO3M6FD/vdBMvgXhyq3r9g/T0vK2QE",
        name="Alice Andrews",
        summary="Personal current account with salary and card spending, a savings account, "
        "and a joint current account with bob.",
    ),
    TestCustomer(
        username="bob",
        password="bob-builder",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$tnYB8V5MWL0GhpJOWGEdIA$Ta19nME+zRZNoW8cXsJ5S1HR1DXlJrEzBg3Yx9dkPrE",
        name="Bob Baker",
        summary="The joint current account with alice and his own current account.",
    ),
    TestCustomer(
        username="carol",
        password="carol-singer",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$xcZuxEz0VmmDNXcgNDNQ8A$M2WolecTou/H7BFtaKCrqJKdCaGSXQK3uKMdmXvPzBM",
        name="Carol Carter",
        summary="A credit card identified by its PAN, and a current account.",
    ),
    TestCustomer(
        username="dave",
        password="dave-bakery",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$WXYxWUTbe3Qt6RnFZiRJug$t9SbVkpFA7Z2uGImEunhFU0AI5yIb88o/r2/3OdVlRw",
        name="Dave Dawson",
        summary="Business current account and business savings for Dawson's Bakery Ltd.",
    ),
    TestCustomer(
        username="erin",
        password="erin-accounts",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$L+jl35QWeo6QU/fh3Ibjgw$R0MI53miWn+qVrxBqp5y9SxNMrT17/kURtHVdMbjOlc",
        name="Erin Evans",
        summary="Many accounts: two current accounts, three savings accounts and a credit card.",
    ),
)


def _sc(key: str, nickname: str, holder: str, subtype: str, number: str, balance: str, *holders: str,
        account_type: str = "Personal") -> TestAccount:
    return TestAccount(
        key=key,
        nickname=nickname,
        holder_name=holder,
        account_type=account_type,
        account_subtype=subtype,
        scheme_name=SORT_CODE_SCHEME,
        identification=number,
        opening_balance=balance,
        holders=holders,
    )


ACCOUNTS: tuple[TestAccount, ...] = (
    _sc("alice-current", "Alice's current account", "Alice Andrews", "CurrentAccount", "40004012345678",
        "2450.00", "alice"),
    _sc("alice-savings", "Rainy day savings", "Alice Andrews", "Savings", "40004087654321", "10250.50", "alice"),
    _sc("alice-bob-joint", "Household joint account", "Alice Andrews and Bob Baker", "CurrentAccount",
        "40004011112222", "1830.25", "alice", "bob"),
    _sc("bob-current", "Bob's current account", "Bob Baker", "CurrentAccount", "20003033334444", "640.10", "bob"),
    TestAccount(
        key="carol-card",
        nickname="Carol's credit card",
        holder_name="Carol Carter",
        account_type="Personal",
        account_subtype="CreditCard",
        scheme_name=PAN_SCHEME,
        # A test card number (Luhn-valid, reserved for testing): never a real card.
        identification="5555555555554444",
        opening_balance="-325.40",
        holders=("carol",),
    ),
    _sc("carol-current", "Carol's current account", "Carol Carter", "CurrentAccount", "30009055556666",
        "980.00", "carol"),
    _sc("dave-business", "Dawson's Bakery trading", "Dawson's Bakery Ltd", "CurrentAccount", "60008077778888",
        "15400.00", "dave", account_type="Business"),
    _sc("dave-business-savings", "Dawson's Bakery reserve", "Dawson's Bakery Ltd", "Savings", "60008099990000",
        "42000.00", "dave", account_type="Business"),
    _sc("erin-current", "Erin's everyday account", "Erin Evans", "CurrentAccount", "50001010101010", "1200.00",
        "erin"),
    _sc("erin-bills", "Erin's bills account", "Erin Evans", "CurrentAccount", "50001020202020", "300.00", "erin"),
    _sc("erin-savings", "Erin's easy access saver", "Erin Evans", "Savings", "50001030303030", "5000.00", "erin"),
    _sc("erin-holiday", "Holiday fund", "Erin Evans", "Savings", "50001040404040", "750.00", "erin"),
    _sc("erin-isa", "Erin's cash ISA", "Erin Evans", "Savings", "50001050505050", "20000.00", "erin"),
    TestAccount(
        key="erin-card",
        nickname="Erin's credit card",
        holder_name="Erin Evans",
        account_type="Personal",
        account_subtype="CreditCard",
        scheme_name=PAN_SCHEME,
        identification="4111111111111111",
        opening_balance="-89.99",
        holders=("erin",),
    ),
)


def customer_by_username(username: str) -> TestCustomer | None:
    return next((c for c in CUSTOMERS if c.username == username), None)


def accounts_of(username: str) -> list[TestAccount]:
    return [a for a in ACCOUNTS if username in a.holders]


def _check_definitions() -> None:
    """The seed data's own invariants; a mistake here fails the seed rather than corrupting the bank."""
    usernames = {c.username for c in CUSTOMERS}
    for account in ACCOUNTS:
        Decimal(account.opening_balance)
        if account.scheme_name == SORT_CODE_SCHEME and not (
            len(account.identification) == 14 and account.identification.isdigit()
        ):
            raise ValueError(f"{account.key}: sort code + account number must be 14 digits")
        if not set(account.holders) <= usernames:
            raise ValueError(f"{account.key}: unknown holder")


async def seed(db: SandboxDatabase) -> int:
    """Insert every test customer and account that is missing; returns how many rows were added."""
    _check_definitions()
    added = 0
    async with db.session() as session:
        added += await _seed_rows(session)
        await session.commit()
    return added


async def _seed_rows(session: AsyncSession) -> int:
    added = 0
    for c in CUSTOMERS:
        if await session.get(Customer, c.psu_id) is None:
            session.add(Customer(psu_id=c.psu_id, username=c.username, password_hash=c.password_hash, name=c.name))
            added += 1
    await session.flush()
    for a in ACCOUNTS:
        if await session.get(Account, a.account_id) is None:
            session.add(
                Account(
                    account_id=a.account_id,
                    nickname=a.nickname,
                    account_type=a.account_type,
                    account_subtype=a.account_subtype,
                    currency=a.currency,
                    scheme_name=a.scheme_name,
                    identification=a.identification,
                    holder_name=a.holder_name,
                    opening_balance=a.opening_balance,
                )
            )
            added += 1
    await session.flush()
    for a in ACCOUNTS:
        for position, username in enumerate(a.holders):
            psu_id = customer_id(username=username)
            if await session.get(AccountHolder, (a.account_id, psu_id)) is None:
                session.add(AccountHolder(account_id=a.account_id, psu_id=psu_id, position=position))
                added += 1
    return added


def psu_listing() -> list[dict[str, object]]:
    """The documented test customers with their passwords and accounts (portal, JSON API and CLI)."""
    return [
        {
            "username": c.username,
            "password": c.password,
            "name": c.name,
            "psu_id": c.psu_id,
            "summary": c.summary,
            "accounts": [
                {
                    "account_id": a.account_id,
                    "name": a.nickname,
                    "holder_name": a.holder_name,
                    "account_type": a.account_type,
                    "account_subtype": a.account_subtype,
                    "currency": a.currency,
                    "scheme_name": a.scheme_name,
                    "identification": a.identification,
                    "opening_balance": a.opening_balance,
                    "joint": len(a.holders) > 1,
                }
                for a in accounts_of(c.username)
            ],
        }
        for c in CUSTOMERS
    ]
