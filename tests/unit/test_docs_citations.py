"""Code cites documents that live in this repository.

A docstring or comment that says "docs/architecture.md section 3 step 5" or "docs/obie-notes.md section 2.1"
must point at a heading (and, for a step or a journey, a numbered item) that exists in ``docs/``; the older
citations of documents outside the repository ("NOTES section 4", "ARCHITECTURE section 3") are gone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("gateway", "consent", "sandbox", "tests", "policies", "openapi", "deploy")
SUFFIXES = {".py", ".yaml", ".html", ".md", ".toml", ".json"}
VENDORED = ROOT / "openapi" / "obie"  # the official files, unmodified: not ours to cite from
DOCS = ("architecture.md", "obie-notes.md", "obie-notes-vrp-events.md", "production.md", "bank-integration.md",
        "bank-sign-in.md")

NUMBER = r"\d+(?:\.\d+)*"
CITATION = re.compile(
    rf"docs/(?P<doc>[a-z-]+\.md) (?P<kind>sections?|journeys?) (?P<nums>{NUMBER}(?:(?:, | and ){NUMBER})*)"
    rf"(?: step (?P<step>\d+))?"
)
OLD_STYLE = re.compile(r"\b(?:NOTES|ARCHITECTURE)\b")


def _source_files() -> list[Path]:
    files: list[Path] = []
    for top in SOURCES:
        files.extend(p for p in (ROOT / top).rglob("*")
                     if p.is_file() and p.suffix in SUFFIXES and VENDORED not in p.parents)
    return sorted(files)


def _flattened(text: str) -> str:
    """Join lines so a citation wrapped across lines (or across ``#`` comment lines) reads as one."""
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)


def _sections(doc: str) -> dict[str, str]:
    """Heading number -> the text under it, up to the next heading of any level."""
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    parts = re.split(rf"^#+ ({NUMBER})\.?\s.*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _citations() -> list[tuple[str, str]]:
    found = []
    for path in _source_files():
        if path == Path(__file__).resolve():
            continue
        for match in CITATION.finditer(_flattened(path.read_text(encoding="utf-8"))):
            found.append((str(path.relative_to(ROOT)), match.group(0)))
    return found


def test_the_code_cites_the_repository_documents_at_all() -> None:
    assert len(_citations()) > 100


@pytest.mark.parametrize("doc", DOCS)
def test_every_cited_document_is_in_the_repository(doc: str) -> None:
    assert (ROOT / "docs" / doc).is_file()


def test_every_citation_names_a_heading_or_item_that_exists() -> None:
    sections = {doc: _sections(doc) for doc in DOCS}
    broken = []
    for where, citation in _citations():
        match = CITATION.fullmatch(citation)
        assert match is not None
        doc = match.group("doc")
        if doc not in sections:
            broken.append(f"{where}: {citation} (no such document)")
            continue
        numbers = re.split(r", | and ", match.group("nums"))
        if match.group("kind").startswith("journey"):
            journeys = sections[doc].get("1", "")
            broken.extend(
                f"{where}: {citation} (no journey {n})"
                for n in numbers
                if not re.search(rf"^{n}\. ", journeys, flags=re.MULTILINE)
            )
            continue
        for number in numbers:
            body = sections[doc].get(number)
            if body is None:
                broken.append(f"{where}: {citation} (no section {number})")
            elif match.group("step") and not re.search(
                rf"^{match.group('step')}\. ", body, flags=re.MULTILINE
            ):
                broken.append(f"{where}: {citation} (section {number} has no step {match.group('step')})")
    assert broken == []


def test_no_citation_points_outside_the_repository() -> None:
    stale = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _source_files()
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OLD_STYLE.search(line)
    ]
    assert stale == []
