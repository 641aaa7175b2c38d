"""The sandbox accounts' profiles: what recurs on each account and where its random spending goes.

An account's recurring items (salary, rent, direct debits, standing orders, interest) are declared once in its
``Profile``; the day-by-day histories (``sandbox.ledger``) are generated from it and the standing-order,
direct-debit and beneficiary resources (``sandbox.ais_catalogue``) read the same declarations, so a standing order
listed by the API is the one that shows up in the transactions (OBIE Read/Write API v3.1.11, Account and
Transaction API, Standing Orders, Direct Debits and Beneficiaries resources).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from sandbox.customers import PAN_SCHEME
from sandbox.customers import SORT_CODE_SCHEME
from sandbox.customers import TestAccount


@dataclass(frozen=True, kw_only=True)
class Counterparty:
    name: str
    identification: str
    scheme: str = SORT_CODE_SCHEME


@dataclass(frozen=True, kw_only=True)
class Recurring:
    """A monthly item on a fixed day: it becomes a transaction every month and, by ``kind``, a resource."""

    kind: str  # salary | rent | direct-debit | standing-order | interest | card-repayment | transfer-in
    name: str
    day: int
    amount: Decimal
    credit: bool
    reference: str
    counterparty: Counterparty | None = None
    # Direct debits: the originator's mandate reference (OBIE ``MandateIdentification``).
    mandate: str | None = None


@dataclass(frozen=True, kw_only=True)
class Spend:
    """Somewhere money goes (or comes from) at random: a card merchant, a supplier, a customer."""

    name: str
    low: Decimal
    high: Decimal
    kind: str = "card"  # card | faster-payment-in | faster-payment-out | cash
    merchant_category: str | None = None
    counterparty: Counterparty | None = None
    weight: int = 1


@dataclass(frozen=True, kw_only=True)
class Profile:
    recurring: tuple[Recurring, ...] = ()
    spends: tuple[Spend, ...] = ()
    # How many random entries a day: inclusive range.
    per_day: tuple[int, int] = (0, 0)
    credit_limit: Decimal | None = None
    card_scheme: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _m(value: str) -> Decimal:
    return Decimal(value)


# Real-looking UK merchants with their ISO 18245 merchant category codes.
GROCERIES = (
    Spend(name="Tesco Stores", low=_m("6.50"), high=_m("84.00"), merchant_category="5411", weight=4),
    Spend(name="Sainsbury's", low=_m("4.20"), high=_m("62.00"), merchant_category="5411", weight=3),
    Spend(name="Waitrose", low=_m("8.00"), high=_m("55.00"), merchant_category="5411"),
    Spend(name="Lidl GB", low=_m("5.00"), high=_m("40.00"), merchant_category="5411", weight=2),
)
EVERYDAY = (
    Spend(name="Pret A Manger", low=_m("3.10"), high=_m("11.50"), merchant_category="5814", weight=3),
    Spend(name="Costa Coffee", low=_m("2.80"), high=_m("7.40"), merchant_category="5814", weight=3),
    Spend(name="Transport for London", low=_m("1.75"), high=_m("8.10"), merchant_category="4111", weight=4),
    Spend(name="Amazon UK", low=_m("5.99"), high=_m("89.99"), merchant_category="5942", weight=2),
    Spend(name="Boots", low=_m("3.50"), high=_m("28.00"), merchant_category="5912", weight=2),
    Spend(name="Shell Filling Station", low=_m("35.00"), high=_m("78.00"), merchant_category="5541"),
    Spend(name="Deliveroo", low=_m("14.00"), high=_m("36.00"), merchant_category="5812", weight=2),
    Spend(name="Odeon Cinemas", low=_m("9.50"), high=_m("24.00"), merchant_category="7832"),
    Spend(name="Cash withdrawal", low=_m("20.00"), high=_m("100.00"), kind="cash", merchant_category="6011"),
)
CARD_SHOPS = (
    Spend(name="John Lewis", low=_m("15.00"), high=_m("180.00"), merchant_category="5311", weight=2),
    Spend(name="Marks & Spencer", low=_m("8.00"), high=_m("95.00"), merchant_category="5311", weight=2),
    Spend(name="easyJet Airline", low=_m("45.00"), high=_m("240.00"), merchant_category="3245"),
    Spend(name="Premier Inn", low=_m("60.00"), high=_m("140.00"), merchant_category="3811"),
    Spend(name="Spotify", low=_m("11.99"), high=_m("11.99"), merchant_category="5815"),
    Spend(name="Amazon UK", low=_m("7.99"), high=_m("120.00"), merchant_category="5942", weight=3),
)


def sort_code_account(name: str, identification: str) -> Counterparty:
    return Counterparty(name=name, identification=identification)


def _dd(name: str, day: int, amount: str, mandate: str, reference: str) -> Recurring:
    return Recurring(kind="direct-debit", name=name, day=day, amount=_m(amount), credit=False,
                     reference=reference, mandate=mandate)


def _so(name: str, day: int, amount: str, to: Counterparty, reference: str) -> Recurring:
    return Recurring(kind="standing-order", name=name, day=day, amount=_m(amount), credit=False,
                     reference=reference, counterparty=to)


_ALICE_SAVINGS = sort_code_account("Alice Andrews", "40004087654321")
_JOINT = sort_code_account("Alice Andrews and Bob Baker", "40004011112222")
_CAROL_CARD = Counterparty(name="Carol Carter", identification="5555555555554444", scheme=PAN_SCHEME)
_ERIN_BILLS = sort_code_account("Erin Evans", "50001020202020")
_ERIN_HOLIDAY = sort_code_account("Erin Evans", "50001040404040")

PROFILES: dict[str, Profile] = {
    "alice-current": Profile(
        recurring=(
            Recurring(kind="salary", name="Northwind Analytics Ltd", day=25, amount=_m("3200.00"), credit=True,
                      reference="NORTHWIND SALARY", counterparty=sort_code_account("Northwind Analytics Ltd", "20325643218765")),
            _so("Harbour Lettings", 1, "1150.00", sort_code_account("Harbour Lettings Ltd", "30966512345670"), "FLAT 4 RENT"),
            _so("Alice Andrews", 26, "200.00", _ALICE_SAVINGS, "RAINY DAY"),
            _so("Alice Andrews and Bob Baker", 27, "600.00", _JOINT, "HOUSEHOLD"),
            _dd("Vodafone Ltd", 8, "32.00", "VF-2210-884613", "VODAFONE MOBILE"),
            _dd("Netflix Services UK", 14, "10.99", "NFLX-77402311", "NETFLIX.COM"),
            _dd("PureGym Ltd", 3, "24.99", "PG-5521-0093", "PUREGYM"),
        ),
        spends=GROCERIES + EVERYDAY,
        per_day=(0, 3),
        card_scheme="VISA",
    ),
    "alice-savings": Profile(
        recurring=(
            Recurring(kind="transfer-in", name="Alice Andrews", day=26, amount=_m("200.00"), credit=True,
                      reference="RAINY DAY", counterparty=sort_code_account("Alice Andrews", "40004012345678")),
            Recurring(kind="interest", name="Interest paid", day=28, amount=_m("31.42"), credit=True,
                      reference="GROSS INTEREST"),
        ),
    ),
    "alice-bob-joint": Profile(
        recurring=(
            Recurring(kind="transfer-in", name="Alice Andrews", day=27, amount=_m("600.00"), credit=True,
                      reference="HOUSEHOLD", counterparty=sort_code_account("Alice Andrews", "40004012345678")),
            Recurring(kind="transfer-in", name="Bob Baker", day=27, amount=_m("600.00"), credit=True,
                      reference="HOUSEHOLD", counterparty=sort_code_account("Bob Baker", "20003033334444")),
            _dd("Octopus Energy Ltd", 12, "118.00", "OCTO-4417820", "OCTOPUS ENERGY"),
            _dd("Thames Water Utilities", 16, "41.50", "TW-88123007", "THAMES WATER"),
            _dd("London Borough of Camden", 1, "172.00", "CAMDEN-CT-3319", "COUNCIL TAX"),
            _dd("BT Group plc", 20, "45.00", "BT-FIBRE-66120", "BT BROADBAND"),
        ),
        spends=GROCERIES,
        per_day=(0, 1),
        card_scheme="MasterCard",
    ),
    "bob-current": Profile(
        recurring=(
            Recurring(kind="salary", name="Baker Construction Ltd", day=28, amount=_m("2310.00"), credit=True,
                      reference="BCL PAYROLL", counterparty=sort_code_account("Baker Construction Ltd", "60161312349876")),
            _so("Alice Andrews and Bob Baker", 27, "600.00", _JOINT, "HOUSEHOLD"),
            _dd("EE Limited", 5, "28.00", "EE-0041-22871", "EE MOBILE"),
        ),
        spends=EVERYDAY,
        per_day=(0, 3),
        card_scheme="VISA",
    ),
    "carol-card": Profile(
        recurring=(
            Recurring(kind="card-repayment", name="Carol Carter", day=18, amount=_m("700.00"), credit=True,
                      reference="PAYMENT RECEIVED", counterparty=sort_code_account("Carol Carter", "30009055556666")),
        ),
        spends=CARD_SHOPS + EVERYDAY[:5],
        per_day=(0, 1),
        credit_limit=_m("4500.00"),
        card_scheme="MasterCard",
    ),
    "carol-current": Profile(
        recurring=(
            Recurring(kind="salary", name="Carter & Reed Solicitors", day=27, amount=_m("3400.00"), credit=True,
                      reference="CRS SALARY", counterparty=sort_code_account("Carter & Reed Solicitors", "40051188776655")),
            _dd("Sandbox Bank Card Services", 18, "700.00", "SBCARD-5555-4444", "CREDIT CARD"),
            _so("Maple Court Management", 1, "980.00", sort_code_account("Maple Court Management Ltd", "20718899001122"),
                "MAPLE COURT RENT"),
        ),
        spends=GROCERIES,
        per_day=(0, 2),
        card_scheme="VISA",
    ),
    "dave-business": Profile(
        recurring=(
            _dd("HM Revenue & Customs", 22, "1840.00", "HMRC-VAT-884201", "HMRC VAT"),
            _dd("Business Stream Water", 10, "96.00", "BSW-221788", "WATER RATES"),
            _so("Old Town Properties", 1, "2200.00", sort_code_account("Old Town Properties Ltd", "83071144556677"),
                "SHOP LEASE"),
            _so("Dawson's Bakery Ltd", 28, "500.00", sort_code_account("Dawson's Bakery Ltd", "60008099990000"), "RESERVE"),
            Recurring(kind="faster-payment-out", name="Payroll", day=26, amount=_m("6420.00"), credit=False,
                      reference="STAFF WAGES", counterparty=sort_code_account("Dawson's Bakery Payroll", "60008011223344")),
        ),
        spends=(
            Spend(name="SumUp Payments Ltd", low=_m("180.00"), high=_m("940.00"), kind="faster-payment-in",
                  counterparty=sort_code_account("SumUp Payments Ltd", "04000412345678"), weight=6),
            Spend(name="Green Lane Cafe", low=_m("45.00"), high=_m("210.00"), kind="faster-payment-in",
                  counterparty=sort_code_account("Green Lane Cafe Ltd", "20456712340987"), weight=2),
            Spend(name="Riverside Deli", low=_m("60.00"), high=_m("320.00"), kind="faster-payment-in",
                  counterparty=sort_code_account("Riverside Deli Ltd", "30998811220033"), weight=2),
            Spend(name="Wessex Flour Mills", low=_m("210.00"), high=_m("880.00"), kind="faster-payment-out",
                  counterparty=sort_code_account("Wessex Flour Mills Ltd", "40112233445566"), weight=2),
            Spend(name="County Dairy Supplies", low=_m("85.00"), high=_m("340.00"), kind="faster-payment-out",
                  counterparty=sort_code_account("County Dairy Supplies Ltd", "20887766554433"), weight=2),
            Spend(name="Booker Wholesale", low=_m("40.00"), high=_m("260.00"), merchant_category="5411"),
            Spend(name="Screwfix Direct", low=_m("12.00"), high=_m("95.00"), merchant_category="5251"),
        ),
        per_day=(2, 6),
        card_scheme="VISA",
    ),
    "dave-business-savings": Profile(
        recurring=(
            Recurring(kind="transfer-in", name="Dawson's Bakery Ltd", day=28, amount=_m("500.00"), credit=True,
                      reference="RESERVE", counterparty=sort_code_account("Dawson's Bakery Ltd", "60008077778888")),
            Recurring(kind="interest", name="Interest paid", day=28, amount=_m("88.15"), credit=True,
                      reference="GROSS INTEREST"),
        ),
    ),
    "erin-current": Profile(
        recurring=(
            Recurring(kind="salary", name="Evans Design Studio", day=25, amount=_m("2900.00"), credit=True,
                      reference="EDS SALARY", counterparty=sort_code_account("Evans Design Studio Ltd", "09012744448888")),
            _so("Erin Evans", 26, "350.00", _ERIN_BILLS, "BILLS POT"),
            _so("Erin Evans", 26, "75.00", _ERIN_HOLIDAY, "HOLIDAY"),
            _dd("Sandbox Bank Card Services", 20, "950.00", "SBCARD-4111-1111", "CREDIT CARD"),
        ),
        spends=GROCERIES + EVERYDAY,
        per_day=(0, 3),
        card_scheme="VISA",
    ),
    "erin-bills": Profile(
        recurring=(
            Recurring(kind="transfer-in", name="Erin Evans", day=26, amount=_m("350.00"), credit=True,
                      reference="BILLS POT", counterparty=sort_code_account("Erin Evans", "50001010101010")),
            _dd("British Gas", 9, "86.00", "BG-71120934", "BRITISH GAS"),
            _dd("Virgin Media", 15, "52.00", "VM-3300981", "VIRGIN MEDIA"),
            _dd("Aviva Insurance", 2, "24.60", "AVIVA-HOME-0192", "HOME INSURANCE"),
            _dd("TV Licensing", 1, "14.25", "TVL-8827711", "TV LICENCE"),
        ),
    ),
    "erin-savings": Profile(
        recurring=(
            Recurring(kind="interest", name="Interest paid", day=28, amount=_m("14.70"), credit=True,
                      reference="GROSS INTEREST"),
        ),
    ),
    "erin-holiday": Profile(
        recurring=(
            Recurring(kind="transfer-in", name="Erin Evans", day=26, amount=_m("75.00"), credit=True,
                      reference="HOLIDAY", counterparty=sort_code_account("Erin Evans", "50001010101010")),
        ),
    ),
    "erin-isa": Profile(
        recurring=(
            Recurring(kind="interest", name="ISA interest", day=5, amount=_m("68.20"), credit=True,
                      reference="TAX FREE INTEREST"),
        ),
    ),
    "erin-card": Profile(
        recurring=(
            Recurring(kind="card-repayment", name="Erin Evans", day=20, amount=_m("950.00"), credit=True,
                      reference="PAYMENT RECEIVED", counterparty=sort_code_account("Erin Evans", "50001010101010")),
        ),
        spends=CARD_SHOPS,
        per_day=(0, 1),
        credit_limit=_m("2000.00"),
        card_scheme="VISA",
    ),
}

# Accounts the seed generator makes at scale share a few generic profiles by sub-type.
GENERIC_PROFILES: dict[str, Profile] = {
    "CurrentAccount": Profile(
        recurring=(
            Recurring(kind="salary", name="Acme Widgets Ltd", day=25, amount=_m("2200.00"), credit=True,
                      reference="ACME SALARY", counterparty=sort_code_account("Acme Widgets Ltd", "20000055555555")),
            _dd("Octopus Energy Ltd", 12, "96.00", "OCTO-GEN-1", "OCTOPUS ENERGY"),
        ),
        spends=GROCERIES + EVERYDAY,
        per_day=(0, 3),
        card_scheme="VISA",
    ),
    "Savings": Profile(
        recurring=(
            Recurring(kind="interest", name="Interest paid", day=28, amount=_m("12.00"), credit=True,
                      reference="GROSS INTEREST"),
        ),
    ),
    "CreditCard": Profile(spends=CARD_SHOPS, per_day=(0, 1), credit_limit=_m("3000.00"), card_scheme="VISA"),
}


def profile_for(account: TestAccount) -> Profile:
    """The named profile of a documented account, else the generic one for its sub-type."""
    return PROFILES.get(account.key) or GENERIC_PROFILES.get(account.account_subtype, Profile())
