"""Copies of the shipped rulebook (``policies/``) with one part resized, for tests that must see a limit trip
without making hundreds of calls. The shipped defaults themselves are tested as shipped elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

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
