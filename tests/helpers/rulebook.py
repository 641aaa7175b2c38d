"""Copies of the shipped rulebook (``policies/``) with one part resized, for tests that must see a limit trip
without making hundreds of calls. The shipped defaults themselves are tested as shipped elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).resolve().parents[2] / "policies"
RATE_HEADERS = frozenset({"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"})


def sized_rulebook(target: Path, *, classes: dict[str, str] | None = None, per_consent: str | None = None) -> Path:
    """A copy of the shipped rulebook with the default tier's ``classes`` and ``per_consent`` replaced."""
    shutil.copytree(SHIPPED, target)
    path = target / "rate-limits.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["tiers"][document["default_tier"]].update(classes or {})
    if per_consent is not None:
        document["per_consent"] = per_consent
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


def changed_rulebook(
    target: Path,
    *,
    fapi: dict[str, Any] | None = None,
    routes: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """A copy of the shipped rulebook with keys changed: ``fapi`` maps dotted keys of fapi.yaml
    (``"clock_skew.ahead_seconds"``) to new values, ``routes`` an operationId to the flags of its rule to change.
    Every key changed must already exist, so a renamed key fails the test instead of testing nothing."""
    shutil.copytree(SHIPPED, target)
    if fapi:
        path = target / "fapi.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for dotted, value in fapi.items():
            *parents, last = dotted.split(".")
            node = document
            for part in parents:
                node = node[part]
            assert last in node, dotted
            node[last] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    if routes:
        path = target / "routes.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for operation, flags in routes.items():
            (rule,) = [r for r in document["routes"] if r.get("operation") == operation]
            for flag, value in flags.items():
                assert flag in rule, (operation, flag)
                rule[flag] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target
