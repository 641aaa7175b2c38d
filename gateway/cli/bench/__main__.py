"""``python -m gateway.cli.bench serve-gateway CLAIMS`` | ``serve-floor UPSTREAM PORT``: the servers a benchmark run
starts (gateway.cli.bench.servers); ``python -m gateway.cli.bench [--seconds N] [--json]``: the run itself."""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.cli.bench import servers


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve-gateway"] and len(argv) == 2:
        servers.serve_gateway(claims_file=Path(argv[1]))
        return 0
    if argv[:1] == ["serve-floor"] and len(argv) == 3:
        servers.serve_floor(upstream=argv[1], port=int(argv[2]))
        return 0
    from gateway.cli.main import main as cli_main

    return cli_main(["bench", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
