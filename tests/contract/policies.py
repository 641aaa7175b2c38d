"""Gateway policies for contract runs: the shipped ones with the rate-limit windows widened.

A contract run sends bursts of reads on one consent (R/W API "429 (Too Many Requests)" budgets would answer
most of them 429); what it checks is the documents, not the budgets, which their own tests cover. The
unattended-access rule (AISP profile: at most four unattended reads a day per consent) stays as shipped.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from gateway.settings import REPO_ROOT


def roomy_policies(*, target: Path) -> Path:
    """A copy of ``policies/`` at ``target`` whose tier and per-consent limits are out of a run's reach."""
    shutil.copytree(REPO_ROOT / "policies", target)
    limits = target / "rate-limits.yaml"
    widened, count = re.subn(r'"\d+/second;\d+/minute"', '"100000/second;1000000/minute"', limits.read_text())
    if count == 0:
        raise ValueError(f"{limits}: no rate limit found to widen")
    limits.write_text(widened)
    return target
