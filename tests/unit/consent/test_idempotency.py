"""R/W API "Request Headers": x-idempotency-key is Max40Text without surrounding white space. The replay window
("Idempotency": 24 hours) is the rulebook's, given by the caller: tests/unit/consent/test_consent_idempotency.py."""

from __future__ import annotations

import pytest

from consent import idempotency


@pytest.mark.parametrize("key", ["a", "pay-1", "x" * 40, "with inner space"])
def test_a_key_of_1_to_40_characters_without_surrounding_space_is_well_formed(key: str) -> None:
    assert idempotency.well_formed(key)


@pytest.mark.parametrize("key", ["", "x" * 41, " lead", "trail ", "line\nbreak", "tab\tinside", "end\n"])
def test_an_empty_long_padded_or_unprintable_key_is_not_well_formed(key: str) -> None:
    assert not idempotency.well_formed(key)
