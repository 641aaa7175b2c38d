"""The side-by-side benchmark behind ``obgw bench`` / ``make bench`` (docs/performance.md).

One module per concern: ``processes`` (pinned children, stopped by pid), ``stub`` (nginx: the stub upstream and
the reverse proxy), ``servers`` (the bench-only pass-through gateway and the Python floor), ``seed`` (rulebook
copy, consents, pre-signed requests), ``token`` (the token endpoint lines and node-oidc-provider), ``load`` (wrk and its Lua scripts), ``report`` (medians and ratios) and
``run`` (the run itself).
"""

from __future__ import annotations

import argparse


def main(args: argparse.Namespace) -> int:
    from gateway.cli.bench.run import main as run

    return run(args)
