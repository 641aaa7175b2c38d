"""``obgw sandbox seed --customers N --transactions M``: generates synthetic customers and reports the time."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sandbox.cli import main


def run(var_dir: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), environ={"OBGW_VAR_DIR": str(var_dir)}, out=out)
    return code, out.getvalue()


def test_seed_with_customers_reports_what_it_generated(var_dir: Path) -> None:
    code, text = run(var_dir, "seed", "--customers", "4", "--transactions", "12", "--json")
    assert code == 0, text
    generated = json.loads(text)["generated"]
    assert (generated["customers"], generated["accounts"], generated["transactions"]) == (4, 6, 72)
    assert generated["seconds"] >= 0
    code, text = run(var_dir, "seed", "--customers", "4", "--transactions", "12", "--json")
    assert json.loads(text)["generated"]["customers"] == 0


def test_seed_with_a_bad_size_is_a_usage_error(var_dir: Path) -> None:
    code, text = run(var_dir, "seed", "--customers", "-3", "--json")
    assert code == 2
    assert json.loads(text)["error"] == "invalid_request"
