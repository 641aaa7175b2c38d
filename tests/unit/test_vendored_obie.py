"""The official OBIE files in ``openapi/obie/`` are the published ones, unmodified (their licence allows no
changed copies), and each is listed with its source and checksum in ``openapi/obie/README.md``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "openapi" / "obie"
ROW = re.compile(r"^\| `(?P<file>[^`]+\.yaml)` \| `[^`]+` \| `(?P<sha256>[0-9a-f]{64})` \|$", re.MULTILINE)


def _listed() -> dict[str, str]:
    return {m["file"]: m["sha256"] for m in ROW.finditer((VENDORED / "README.md").read_text(encoding="utf-8"))}


def test_every_vendored_file_is_listed_and_every_listed_file_is_there() -> None:
    present = {str(p.relative_to(VENDORED)) for p in VENDORED.rglob("*") if p.is_file() and p.name != "README.md"}
    assert present == set(_listed())
    assert "account-and-transaction/v3.1.11/account-info-openapi.yaml" in present


def test_every_vendored_file_matches_its_published_checksum() -> None:
    changed = [name for name, digest in _listed().items()
               if hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() != digest]
    assert changed == []


def test_line_endings_are_never_rewritten_by_git() -> None:
    assert "openapi/obie/** -text" in (ROOT / ".gitattributes").read_text(encoding="utf-8")
