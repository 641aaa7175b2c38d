"""Every JSON request body goes through ``consent.wire.loads_json``: deep nesting and invalid UTF-8 are 400
refusals (``MalformedBody`` / ``ResourceInvalidFormat``), never a RecursionError or 500."""

from __future__ import annotations

import pytest

from consent import wire
from consent.errors import MalformedBody
from gateway import errors
from gateway.pipeline import payment_checks

NESTED = b"[" * 10_000 + b"]" * 10_000


@pytest.mark.parametrize("raw", [NESTED, b'{"Data": ' + b"[" * 65 + b"]" * 65 + b"}", b'{"Data": {"a": "\xff"}}'])
def test_consent_bodies_refuse_deep_nesting_and_invalid_utf8(raw: bytes) -> None:
    with pytest.raises(MalformedBody) as refused:
        wire.parse_body(raw)
    assert refused.value.status_code == 400


def test_payment_bodies_refuse_deep_nesting() -> None:
    with pytest.raises(errors.ResourceInvalidFormat) as refused:
        payment_checks.parse_json(NESTED)
    assert refused.value.status_code == 400


def test_ordinary_nesting_is_accepted() -> None:
    assert wire.parse_body(b'{"Data": {"Initiation": {"CreditorAccount": {"Identification": "1"}}}}')["Data"]
