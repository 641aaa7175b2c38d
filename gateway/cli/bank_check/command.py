"""``obgw bank check --url URL [--key FILE --issuer URL] [--username U --password P] [--sandbox] [--json]``
(docs/bank-integration.md section 4): runs ``gateway.cli.bank_check.checks`` against a bank's adapter and exits
0 only when every check passed.

The context is signed with the gateway's newest context key from its configuration (``OBGW_VAR_DIR``, the same
key the running gateway signs with, so an adapter that trusts the gateway's published JWKS trusts it), or with
the private JWK in ``--key`` (a JSON file with ``kid``), whose public half the adapter must then trust.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from gateway.cli.bank_check import contract
from gateway.cli.bank_check import report
from gateway.cli.bank_check.checks import BankCheck
from gateway.cli.bank_check.checks import passed
from gateway.cli.bank_check.signing import ContextSigner

TIMEOUT_SECONDS = 10.0  # the gateway's total timeout for one bank call (gateway.backend.upstream)


def add_arguments(sub: Any) -> None:
    bank = sub.add_parser("bank", help="the bank-backend contract: check a bank's adapter against it")
    bank_sub = bank.add_subparsers(dest="bank_command", required=True)
    check = bank_sub.add_parser("check", help="call every contract operation, validate the answers, try bad "
                                              "contexts; exit 0 only when all pass")
    check.add_argument("--url", required=True, help="the adapter's base URL (as OBGW_SANDBOX_URL would name it)")
    check.add_argument("--key", type=Path, default=None, metavar="FILE",
                       help="a private JWK (JSON, with kid) to sign contexts; default: the gateway's context key")
    check.add_argument("--issuer", default=None, help="iss of the contexts; default: the gateway's OBGW_ISSUER")
    check.add_argument("--username", default="alice", help="a test customer the adapter signs in")
    check.add_argument("--password", default="alice-wonderland")
    check.add_argument("--sandbox", action="store_true", help="also check the sandbox-only scenario operations")
    check.add_argument("--json", action="store_true")


def _signer(args: argparse.Namespace) -> ContextSigner:
    from gateway.security.keys import KeyStore
    from gateway.security.keys import KeyStoreError
    from gateway.settings import Settings
    from gateway.settings import SettingsError

    if args.key is not None:
        try:
            key = json.loads(args.key.read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"obgw: --key {args.key}: {exc}") from None
        if not isinstance(key, dict) or "d" not in key:
            raise SystemExit(f"obgw: --key {args.key} is not a private JWK")
        if args.issuer is None:
            raise SystemExit("obgw: --key needs --issuer (the iss the adapter expects)")
        try:
            return ContextSigner(key=key, issuer=args.issuer)
        except ValueError as exc:
            raise SystemExit(f"obgw: --key {args.key}: {exc}") from None
    try:
        settings = Settings.from_env()
        key = KeyStore.load(settings.keys_dir).context_key
    except (SettingsError, KeyStoreError) as exc:
        raise SystemExit(f"obgw: {exc}") from None
    return ContextSigner(key=key, issuer=args.issuer or settings.issuer)


async def execute(args: argparse.Namespace, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """Run the checks, print the table (or JSON), return the exit code; ``transport`` lets tests answer
    in-process."""
    signer = _signer(args)
    async with httpx.AsyncClient(base_url=args.url.rstrip("/"), transport=transport, timeout=TIMEOUT_SECONDS) as client:
        results = await BankCheck(client=client, signer=signer, contract=contract.load(), username=args.username,
                                  password=args.password, sandbox=args.sandbox).run()
    print(report.as_json(url=args.url, results=results) if args.json else report.as_table(url=args.url, results=results))
    sys.stdout.flush()
    return 0 if passed(results) else 1


def command(args: argparse.Namespace) -> int:
    return asyncio.run(execute(args))
