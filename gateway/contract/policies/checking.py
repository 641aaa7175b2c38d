"""How every rulebook file in ``policies/`` is read and checked (docs/architecture.md section 3 step 1): the
supported ``version``, strict keys and typed values, limit strings in the ``limits`` library syntax, and
``PolicyError`` naming the file, the entry and the broken rule.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Final

import limits

from gateway.contract.specs import SpecError
from gateway.contract.specs import read_yaml

SUPPORTED_VERSION: Final = 1


class PolicyError(ValueError):
    """A policy file breaks a rule. The message names the file, the entry and the rule."""

    def __init__(self, file: str, entry: str, rule: str) -> None:
        super().__init__(f"{file}: {entry}: {rule}")
        self.file = file
        self.entry = entry
        self.rule = rule


@dataclass(frozen=True, kw_only=True)
class Limit:
    """A parsed limit string: every item must hold."""

    text: str
    items: tuple[limits.RateLimitItem, ...]


class PolicyEntry:
    """One mapping of a policy file being checked, with the words to name it in errors."""

    def __init__(self, file: str, entry: str, value: Any) -> None:
        self.file = file
        self.entry = entry
        if not isinstance(value, dict):
            self.fail(f"expected a mapping, got {type(value).__name__}")
        self.value: dict[str, Any] = value

    def fail(self, rule: str) -> None:
        raise PolicyError(self.file, self.entry, rule)

    def keys(self, *, required: Collection[str], optional: Collection[str] = ()) -> None:
        unknown = sorted(set(self.value) - set(required) - set(optional))
        if unknown:
            self.fail(f"unknown key(s) {', '.join(unknown)}")
        missing = sorted(set(required) - set(self.value))
        if missing:
            self.fail(f"missing key(s) {', '.join(missing)}")

    def child(self, key: str) -> PolicyEntry:
        return PolicyEntry(self.file, f"{self.entry}.{key}", self.value[key])

    def boolean(self, key: str) -> bool:
        value = self.value[key]
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false, got {value!r}")
        return bool(value)

    def string(self, key: str, *, choices: Collection[str] | None = None) -> str:
        value = self.value[key]
        if not isinstance(value, str) or not value:
            self.fail(f"{key} must be a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            self.fail(f"{key} {value!r} is not one of {', '.join(sorted(choices))}")
        return str(value)

    def integer(self, key: str, *, minimum: int, maximum: int | None = None, why: str = "") -> int:
        value = self.value[key]
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"{key} must be an integer, got {value!r}")
        if value < minimum:
            self.fail(f"{key} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            self.fail(f"{key} must be at most {maximum}{' (' + why + ')' if why else ''}, got {value}")
        return int(value)

    def string_list(
        self, key: str, *, choices: Collection[str] | None = None, what: str = "value"
    ) -> tuple[str, ...]:
        value = self.value[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{key} must be a non-empty list of strings, got {value!r}")
        if len(set(value)) != len(value):
            self.fail(f"{key} lists a {what} twice")
        if choices is not None:
            unknown = [v for v in value if v not in choices]
            if unknown:
                self.fail(f"unknown {what}(s) {', '.join(unknown)} in {key}")
        return tuple(value)

    def limit(self, key: str) -> Limit:
        return _parse_limit(self, key, self.value[key])


def _parse_limit(entry: PolicyEntry, key: str, text: Any) -> Limit:
    if not isinstance(text, str):
        entry.fail(f'{key} must be a limit string like "50/second;1000/minute", got {text!r}')
    try:
        items = tuple(limits.parse_many(text))
    except ValueError as exc:
        entry.fail(f"{key} is not a valid limit string {text!r} ({exc})")
        raise  # unreachable: fail() raises
    if not items:
        entry.fail(f"{key} is not a valid limit string {text!r}")
    if any(item.amount < 1 for item in items):
        entry.fail(f"{key} {text!r}: every limit must allow at least 1 request")
    return Limit(text=text, items=items)


def read_policy_file(policies_dir: Path, name: str) -> PolicyEntry:
    try:
        data: Any = read_yaml(policies_dir / name)
    except SpecError as exc:
        raise PolicyError(name, "(file)", str(exc)) from exc
    top = PolicyEntry(name, "(top level)", data)
    version = top.value.get("version")
    if version != SUPPORTED_VERSION:
        top.fail(f"version must be {SUPPORTED_VERSION}, got {version!r}")
    return top
