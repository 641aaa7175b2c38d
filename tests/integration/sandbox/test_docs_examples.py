"""The getting-started Python example, run as a partner would run it, against a real ``obgw up``: the page
includes this very file, so a change that breaks the walkthrough breaks this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandbox.docs import EXAMPLES_DIR
from tests.live import live_stack


def run_example(name: str, tmp_path: Path) -> str:
    """Run one packaged example as a partner would, against a fresh ``obgw up``; its output once it succeeded."""
    with live_stack(tmp_path / "var") as stack:
        env = {**stack.env, "OBGW_GATEWAY_URL": stack.gateway_url, "OBGW_SANDBOX_URL": stack.sandbox_url}
        done = subprocess.run(
            [sys.executable, str(EXAMPLES_DIR / name)],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
    assert done.returncode == 0, done.stdout + done.stderr + stack.output()
    assert done.stdout.strip().endswith("OK")
    return done.stdout


async def test_the_python_getting_started_example_reaches_a_customer_token(tmp_path: Path) -> None:
    output = run_example("first_consent.py", tmp_path)
    assert "AwaitingAuthorisation" in output
    assert "customer token: DPoP" in output


async def test_the_first_payment_example_settles_a_domestic_payment(tmp_path: Path) -> None:
    output = run_example("first_payment.py", tmp_path)
    assert "AwaitingAuthorisation" in output
    assert "Pending" in output
    assert "status AcceptedSettlementCompleted" in output


async def test_the_first_vrp_example_pays_within_the_limits_and_is_refused_over_them(tmp_path: Path) -> None:
    output = run_example("first_vrp.py", tmp_path)
    assert "remaining: Calendar-Month=35.00 GBP" in output
    assert "remaining: Calendar-Month=5.00 GBP" in output
    assert "refused 400 UK.OBIE.Rules.FailsControlParameters" in output
    assert "status AcceptedSettlementCompleted" in output
