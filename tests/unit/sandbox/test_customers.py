"""The documented test customers: real argon2id hashes of the documented passwords, stable identifiers, OBIE
account identification rules (14-digit sort code + account number, PAN for cards)."""

from __future__ import annotations

import uuid

import pytest

from sandbox import customers
from sandbox.passwords import DUMMY_HASH
from sandbox.passwords import MEMORY_COST
from sandbox.passwords import TIME_COST
from sandbox.passwords import verify_password


def test_at_least_five_documented_customers() -> None:
    usernames = [c.username for c in customers.CUSTOMERS]
    assert {"alice", "bob", "carol", "dave", "erin"} <= set(usernames)
    assert len(usernames) == len(set(usernames))


@pytest.mark.parametrize("customer", customers.CUSTOMERS, ids=lambda c: c.username)
def test_stored_hash_is_argon2id_of_the_documented_password(customer: customers.TestCustomer) -> None:
    assert customer.password_hash.startswith(f"$argon2id$v=19$m={MEMORY_COST},t={TIME_COST},")
    assert verify_password(password_hash=customer.password_hash, password=customer.password)
    assert not verify_password(password_hash=customer.password_hash, password=customer.password + "x")


def test_dummy_hash_matches_no_documented_password() -> None:
    assert DUMMY_HASH.startswith(f"$argon2id$v=19$m={MEMORY_COST},t={TIME_COST},")
    assert not any(verify_password(password_hash=DUMMY_HASH, password=c.password) for c in customers.CUSTOMERS)


def test_malformed_hash_never_verifies() -> None:
    assert not verify_password(password_hash="not-a-hash", password="anything")


def test_identifiers_are_deterministic_uuid5() -> None:
    alice = customers.customer_by_username("alice")
    assert alice is not None
    assert alice.psu_id == str(uuid.uuid5(customers.SEED_NAMESPACE, "customer:alice"))
    ids = [a.account_id for a in customers.ACCOUNTS]
    assert len(ids) == len(set(ids))
    assert customers.account_id(key="alice-current") == customers.account_id(key="alice-current")


def test_sort_code_accounts_have_14_digits_and_cards_a_pan() -> None:
    for account in customers.ACCOUNTS:
        if account.scheme_name == customers.SORT_CODE_SCHEME:
            assert len(account.identification) == 14 and account.identification.isdigit()
        else:
            assert account.scheme_name == customers.PAN_SCHEME
            assert account.account_subtype == "CreditCard"
        assert account.currency == "GBP"
        assert account.account_type in {"Personal", "Business"}


def test_alice_and_bob_share_the_joint_account() -> None:
    alice = {a.key for a in customers.accounts_of("alice")}
    bob = {a.key for a in customers.accounts_of("bob")}
    assert alice & bob == {"alice-bob-joint"}


def test_customers_have_what_the_documentation_promises() -> None:
    subtypes = {c.username: {a.account_subtype for a in customers.accounts_of(c.username)} for c in customers.CUSTOMERS}
    assert {"CurrentAccount", "Savings"} <= subtypes["alice"]
    assert "CreditCard" in subtypes["carol"]
    assert {a.account_type for a in customers.accounts_of("dave")} == {"Business"}
    assert len(customers.accounts_of("erin")) >= 5


def test_masked_identification_shows_only_the_last_four() -> None:
    masked = customers.masked_identification(scheme_name=customers.PAN_SCHEME, identification="5555555555554444")
    assert masked == "****4444"
