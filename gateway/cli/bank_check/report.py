"""How ``obgw bank check`` prints its rows: a pass/fail table (one row per check, each failure with its reason)
or, with ``--json``, one JSON document (docs/architecture.md section 5: every JSON-printing command is
scriptable)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from gateway.cli.bank_check.checks import FAIL
from gateway.cli.bank_check.checks import PASS
from gateway.cli.bank_check.checks import CheckResult
from gateway.cli.bank_check.checks import passed


def as_json(*, url: str, results: Sequence[CheckResult]) -> str:
    return json.dumps({"url": url, "passed": passed(list(results)),
                       "counts": {o: sum(r.outcome == o for r in results) for o in ("pass", "fail", "skip")},
                       "checks": [r.as_json() for r in results]})


def as_table(*, url: str, results: Sequence[CheckResult]) -> str:
    width = max((len(r.name) for r in results), default=5)
    op_width = max((len(r.operation) for r in results), default=9)
    lines = [f"bank check of {url}", f"{'result':<6}  {'check':<{width}}  {'operation':<{op_width}}  reason"]
    for r in results:
        lines.append(f"{r.outcome.upper():<6}  {r.name:<{width}}  {r.operation:<{op_width}}  {r.reason}".rstrip())
    counts = {o: sum(r.outcome == o for r in results) for o in (PASS, FAIL, "skip")}
    verdict = "all checks passed" if passed(list(results)) else f"{counts[FAIL]} check(s) failed"
    lines.append(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts['skip']} skipped: {verdict}")
    return "\n".join(lines)
