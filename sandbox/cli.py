"""``obgw sandbox ...``: the sandbox's command line, working directly on its database and directory keys.

docs/architecture.md section 5: every JSON-printing command is scriptable: with ``--json`` exactly one JSON document is
printed on stdout (an error too, as ``{"error", "error_description", ...}``, with exit status 1).

* ``psus [--json]``: the documented test customers, their passwords and accounts;
* ``tpp create --name N --redirect-uri U [--redirect-uri U2] [--role AISP] [--auth private_key_jwt|tls_client_auth]
  [--jwks-file F] [--json]``: a partner app and its software statement (keys generated unless a public JWKS
  file is given; the private parts are printed once, never stored);
* ``seed [--customers N --transactions M] [--json]``: create the schema and add any missing test customer (and
  their account histories); with ``--customers``, also ``N`` synthetic customers with ``M`` transactions per
  account for performance work (``sandbox.scale_seed``), reporting how long it took.

No server is needed: settings come from ``OBGW_*`` (``OBGW_VAR_DIR``) via ``SandboxSettings.from_env()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from typing import TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from sandbox.app import build_services
from sandbox.app import prepare_database
from sandbox.customers import psu_listing
from sandbox.directory import ROLES
from sandbox.errors import InvalidRequest
from sandbox.errors import SandboxError
from sandbox.scale_seed import generate
from sandbox.services import SandboxServices
from sandbox.settings import SandboxSettings
from sandbox.software import AUTH_METHODS
from sandbox.software import create_software
from sandbox.software import parse_app_request
from sandbox.software import parse_jwks_text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidRequest(message, rule="usage")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="obgw sandbox", description="Sandbox bank: test customers and partner apps.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    psus = commands.add_parser("psus", help="list the test customers")
    psus.add_argument("--json", action="store_true", help="print one JSON document")
    seed = commands.add_parser("seed", help="create the sandbox schema and the test customers")
    seed.add_argument("--json", action="store_true", help="print one JSON document")
    seed.add_argument("--customers", type=int, default=0, help="also generate N synthetic customers")
    seed.add_argument("--transactions", type=int, default=100, help="transactions per synthetic account")
    tpp = commands.add_parser("tpp", help="partner apps")
    tpp_commands = tpp.add_subparsers(dest="tpp_command", required=True, parser_class=_Parser)
    create = tpp_commands.add_parser("create", help="create an app and its software statement")
    create.add_argument("--name", required=True)
    create.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
    create.add_argument("--role", action="append", choices=ROLES, dest="roles", help="repeatable; default AISP")
    create.add_argument("--auth", choices=AUTH_METHODS, default="private_key_jwt")
    create.add_argument("--jwks-file", type=Path, help="your public JWKS; without it a key pair is generated")
    create.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


async def _open(settings: SandboxSettings) -> SandboxServices:
    svc = build_services(settings)
    await prepare_database(svc, create_schema=True)
    return svc


async def _run(args: argparse.Namespace, settings: SandboxSettings) -> dict[str, Any]:
    if args.command == "psus":
        return {"psus": psu_listing()}
    svc = await _open(settings)
    try:
        if args.command == "seed":
            result: dict[str, Any] = {
                "status": "seeded", "database_url": settings.database_url, "psus": len(psu_listing())
            }
            if args.customers:
                if not 0 < args.customers <= 1_000_000 or not 0 <= args.transactions <= 100_000:
                    raise InvalidRequest("--customers 1..1000000, --transactions 0..100000", rule="usage")
                report = await generate(svc.db, customers=args.customers, transactions=args.transactions)
                result["generated"] = report.as_json()
            return result
        data: dict[str, Any] = {
            "name": args.name,
            "redirect_uris": args.redirect_uris,
            "roles": args.roles or ["AISP"],
            "token_endpoint_auth_method": args.auth,
        }
        if args.jwks_file is not None:
            try:
                text = args.jwks_file.read_text()
            except OSError as exc:
                raise InvalidRequest(f"cannot read {args.jwks_file}", field="jwks", rule="readable") from exc
            data["jwks"] = parse_jwks_text(text)
        created = await create_software(
            db=svc.db, directory=svc.directory, ca=svc.ca, request=parse_app_request(data)
        )
        return created.as_json()
    finally:
        await svc.db.dispose()


def _human(args: argparse.Namespace, result: dict[str, Any], out: TextIO) -> None:
    if args.command == "psus":
        for psu in result["psus"]:
            out.write(f"{psu['username']} / {psu['password']}  {psu['name']}: {psu['summary']}\n")
            for a in psu["accounts"]:
                out.write(
                    f"    {a['account_id']}  {a['name']} ({a['account_type']} {a['account_subtype']}, "
                    f"{a['scheme_name']} {a['identification']}, {a['currency']} {a['opening_balance']})\n"
                )
        return
    if args.command == "seed":
        out.write(f"sandbox database ready ({result['database_url']}), {result['psus']} test customers\n")
        if "generated" in result:
            g = result["generated"]
            out.write(f"generated {g['customers']} customers, {g['accounts']} accounts, "
                      f"{g['transactions']} transactions in {g['seconds']} s\n")
        return
    out.write(f"software_id: {result['software_id']}\norg_id: {result['org_id']}\n")
    out.write(f"software_statement:\n{result['software_statement']}\n")
    if "private_jwk" in result:
        out.write("private_jwk (shown once, not stored):\n" + json.dumps(result["private_jwk"]) + "\n")
    if "client_key_pem" in result:
        out.write(f"tls_client_auth_subject_dn: {result['tls_client_auth_subject_dn']}\n")
        out.write("client certificate:\n" + result["client_certificate_pem"])
        out.write("client key (shown once, not stored):\n" + result["client_key_pem"])


def main(argv: list[str], *, environ: dict[str, str] | None = None, out: TextIO | None = None) -> int:
    """Run one sandbox command; returns the process exit status (0 ok, 1 refused, 2 usage)."""
    stdout = out or sys.stdout
    as_json = "--json" in argv
    settings: SandboxSettings | None = None
    try:
        args = build_parser().parse_args(argv)
        settings = SandboxSettings.from_env(environ)
        result = asyncio.run(_run(args, settings))
    except SystemExit as exc:  # --help prints and exits through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except (SQLAlchemyError, OSError) as exc:
        # A sandbox database that cannot be reached or used: one line naming it, no traceback.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
        where = make_url(settings.database_url).render_as_string(hide_password=True) if settings else "(unset)"
        print(f"obgw sandbox: the sandbox database {where} failed: {reason}; check "
              "OBGW_SANDBOX_DATABASE_URL", file=sys.stderr)
        return 1
    except SandboxError as exc:
        if as_json:
            stdout.write(json.dumps(exc.as_json()) + "\n")
        else:
            print(f"obgw sandbox: {exc.description or exc.code}", file=sys.stderr)
        return 2 if exc.rule == "usage" else 1
    if as_json:
        stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        _human(args, result, stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
