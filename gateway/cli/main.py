"""``obgw``: run, migrate and operate the gateway (docs/architecture.md section 5).

Every command that prints JSON (``--json``) prints exactly one JSON document, so it can be scripted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import signal
import sys
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Sequence
from typing import Any
from typing import Final

from gateway.settings import Settings
from gateway.settings import SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"obgw: {exc}") from None


def _database_problem(exc: Exception) -> int:
    print(f"obgw: {exc}", file=sys.stderr)
    return 1


def _checked(settings: Settings, work: Any) -> Any:
    """Run ``work(db)`` on the gateway database after checking it is an obgw database at the current schema;
    a database that cannot serve raises DatabaseProblem with the operator's message (gateway/store/check.py)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.store.check import explain
    from gateway.store.check import require_current_schema

    async def run() -> Any:
        await require_current_schema(url=settings.database_url)
        try:
            return await _with_db(settings, work)
        except (SQLAlchemyError, OSError) as exc:
            raise explain(url=settings.database_url, error=exc) from None

    return asyncio.run(run())


def cmd_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.store.check import explain
    from gateway.store.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.database_url)
    except (SQLAlchemyError, OSError) as exc:
        return _database_problem(explain(url=settings.database_url, error=exc))
    print(f"database at head: {settings.database_url}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from gateway.security.keys import KeyStore

    settings = _settings()
    store = KeyStore.rotate(settings.keys_dir, sandbox=settings.is_sandbox)
    out = {"kid": store.current["kid"], "keys": [k["kid"] for k in store.keys]}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"new signing key {out['kid']}; {len(store.keys)} key(s) published in the JWKS")
        print("restart the gateway processes to sign with the new key")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from gateway.cli.audit import verify
    from gateway.store.check import DatabaseProblem

    try:
        report = _checked(_settings(), lambda db: verify(db=db))
    except DatabaseProblem as exc:
        return _database_problem(exc)
    if args.json:
        print(json.dumps(report))
    else:
        if report["ok"]:
            pruned = report["pruned_through"]
            print(f"audit trail intact: {report['events']} events"
                  + (f" (events 1 to {pruned} pruned behind a checkpoint)" if pruned else ""))
        else:
            print(f"audit trail BROKEN at event {report['seq']}: {report['reason']} ({report['message']})")
    return 0 if report["ok"] else 1


def _instant(text: str) -> Any:
    """``--before``: a day (``2024-12-07``, midnight UTC) or an ISO 8601 time with its offset."""
    from datetime import UTC
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or an ISO 8601 time: {text}") from None
    if value.tzinfo is None:
        if len(text) > 10:
            raise argparse.ArgumentTypeError(f"give the time's offset (Z or +00:00): {text}")
        value = value.replace(tzinfo=UTC)
    return value


def cmd_audit_prune(args: argparse.Namespace) -> int:
    from datetime import UTC
    from datetime import datetime

    from consent.audit_retention import default_before
    from gateway.cli.audit import prune
    from gateway.store.check import DatabaseProblem

    now = datetime.now(UTC)
    before = args.before if args.before is not None else default_before(now=now)
    try:
        report = _checked(_settings(), lambda db: prune(db=db, before=before, now=now, dry_run=args.dry_run))
    except DatabaseProblem as exc:
        return _database_problem(exc)
    if args.json:
        print(json.dumps(report))
    elif not report["ok"]:
        print(f"obgw: {report['message']}", file=sys.stderr)
    elif report["pruned"] == 0:
        print(f"nothing to prune: no audit event before {report['before']}")
    else:
        verb = "would prune" if report["dry_run"] else "pruned"
        print(f"{verb} {report['pruned']} audit events before {report['before']} "
              f"(events {report['first_seq']} to {report['through_seq']}, the last at {report['through_at']})"
              + ("" if report["dry_run"] else f"; checkpoint {report['checkpoint']} records event "
                 f"{report['through_seq']}'s hash"))
    return 0 if report["ok"] else 1


async def _with_db(settings: Settings, work: Any) -> Any:
    from gateway.store.db import Database

    db = Database(settings.database_url)
    try:
        return await work(db)
    finally:
        await db.dispose()


def cmd_clients(args: argparse.Namespace) -> int:
    from gateway.oauth import operators
    from gateway.store.check import DatabaseProblem

    settings = _settings()
    try:
        if args.clients_command == "list":
            rows = _checked(settings, lambda db: operators.list_clients(db=db))
            if args.json:
                print(json.dumps(rows))
            else:
                for row in rows:
                    print(f"{row['client_id']}  {row['status']:<9}  {row['client_name']}  ({row['org_id']})")
                print(f"{len(rows)} client(s)")
            return 0
        status = "suspended" if args.clients_command == "suspend" else "active"
        row = _checked(settings, lambda db: operators.set_client_status(db=db, client_id=args.client_id,
                                                                         status=status))
    except (operators.OperatorError, DatabaseProblem) as exc:
        print(f"obgw: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(row))
    else:
        print(f"client {row['client_id']} is now {row['status']}")
    return 0


def cmd_consents(args: argparse.Namespace) -> int:
    from gateway.oauth import operators
    from gateway.store.check import DatabaseProblem

    settings = _settings()
    try:
        if args.consents_command == "list":
            rows = _checked(settings, lambda db: operators.list_consents(db=db, client_id=args.client))
            if args.json:
                print(json.dumps(rows))
            else:
                for row in rows:
                    print(f"{row['consent_id']}  {row['status']:<22}  client {row['client_id']}")
                print(f"{len(rows)} consent(s)")
            return 0
        result = _checked(settings, lambda db: operators.revoke_consent(db=db, consent_id=args.consent_id))
    except (operators.OperatorError, DatabaseProblem) as exc:
        print(f"obgw: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        print(f"consent {result['consent_id']} revoked ({result['tokens_revoked']} token(s) revoked)")
    return 0


def cmd_sandbox(args: argparse.Namespace, rest: Sequence[str]) -> int:
    # The sandbox is its own application; the CLI only hands it the arguments.
    sandbox_cli = importlib.import_module("sandbox.cli")
    return int(sandbox_cli.main(list(rest)))


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    run_on_server_loop(_serve(settings, components=args.component, migrate=not args.no_migrate, banner=False))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings()
    run_on_server_loop(_serve(settings, components=["gateway", "sandbox"], migrate=True, banner=True))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    bench = importlib.import_module("gateway.cli.bench")
    return int(bench.main(args))


async def _serve(settings: Settings, *, components: Sequence[str], migrate: bool, banner: bool) -> None:
    import uvicorn

    from gateway.app import create_app
    from gateway.observability.logging import configure_logging
    from gateway.security.keys import KeyStore
    from gateway.store.migrate import upgrade_async

    configure_logging(level=settings.log_level)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    servers: list[uvicorn.Server] = []
    if "sandbox" in components:
        if not settings.is_sandbox:
            raise SystemExit("obgw: the sandbox does not run in production mode")
        KeyStore.ensure(settings.keys_dir, sandbox=True)
        sandbox_app_module = importlib.import_module("sandbox.app")
        sandbox_settings = importlib.import_module("sandbox.settings").SandboxSettings.from_env()
        sandbox_app = sandbox_app_module.create_app(sandbox_settings, create_schema=True)
        servers.append(_server(sandbox_app, settings.sandbox_host, settings.sandbox_port, settings.log_level))
    if "gateway" in components:
        if migrate:
            from sqlalchemy.exc import SQLAlchemyError

            from gateway.store.check import explain

            try:
                await upgrade_async(settings.database_url)
            except (SQLAlchemyError, OSError) as exc:
                raise SystemExit(f"obgw: {explain(url=settings.database_url, error=exc)}") from None
        else:
            from gateway.store.check import DatabaseProblem
            from gateway.store.check import require_current_schema

            try:
                await require_current_schema(url=settings.database_url)
            except DatabaseProblem as exc:
                raise SystemExit(f"obgw: {exc}") from None
        from gateway.contract.policies.checking import PolicyError

        try:
            app = create_app(settings, start_event_worker=settings.event_delivery)
        except (SettingsError, PolicyError) as exc:
            # A rulebook the running configuration breaks (e.g. a signing key of an alg it does not list).
            raise SystemExit(f"obgw: {exc}") from None
        servers.append(_server(app, settings.host, settings.port, settings.log_level))

    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    if banner:
        asyncio.create_task(_print_banner(settings, servers))
    await asyncio.gather(*tasks)


# The servers run on uvloop with httptools' C HTTP parser (both come with uvicorn[standard]), named rather than
# "auto" so that a missing one fails at start-up instead of falling back to the pure-Python ones. uvicorn picks
# its loop only in uvicorn.run(); obgw runs its servers itself (Server.serve), so it builds the loop itself.
SERVER_LOOP: Final = "uvloop"
SERVER_HTTP: Final = "httptools"


def server_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    import uvloop

    return uvloop.new_event_loop


def run_on_server_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` (the servers) on the event loop ``obgw serve`` and ``obgw up`` use (``SERVER_LOOP``)."""
    with asyncio.Runner(loop_factory=server_loop_factory()) as runner:
        runner.run(main)


def _server(app: Any, host: str, port: int, log_level: str) -> Any:
    import uvicorn

    # log_config=None: logging is ours (JSON, redacted); access_log off: the request line is ours too, and
    # uvicorn's would print raw query strings (authorization codes, request_uri handles).
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", loop=SERVER_LOOP,
                            http=SERVER_HTTP, proxy_headers=False, server_header=False, log_config=None,
                            access_log=False)
    server = uvicorn.Server(config)
    # One signal handler stops both servers (installed in _serve).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    return server


async def _print_banner(settings: Settings, servers: Sequence[Any]) -> None:
    while not all(s.started for s in servers):
        if any(s.should_exit for s in servers):
            return
        await asyncio.sleep(0.05)
    from gateway.cli.walkthrough import banner

    print(await banner(settings), flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obgw", description="Open-banking API gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("up", help="migrate, create sandbox keys and data, start the gateway and the sandbox")
    serve = sub.add_parser("serve", help="start one or more components (for replicas)")
    serve.add_argument("--component", action="append", choices=["gateway", "sandbox"], default=None)
    serve.add_argument("--no-migrate", action="store_true")
    sub.add_parser("migrate", help="apply database migrations")

    keys = sub.add_parser("keys", help="signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser("rotate", help="add a new signing key; old keys keep verifying")
    rotate.add_argument("--json", action="store_true")

    audit = sub.add_parser("audit", help="the consent audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 at the first broken link")
    verify.add_argument("--json", action="store_true")
    prune = audit_sub.add_parser(
        "prune", help="delete the events older than --before (default two years ago) behind a checkpoint; "
                      "verify still passes")
    prune.add_argument("--before", type=_instant, default=None, metavar="DATE",
                       help="a day (midnight UTC) or an ISO 8601 time; default: two years ago")
    prune.add_argument("--dry-run", action="store_true", help="count what would be pruned, change nothing")
    prune.add_argument("--json", action="store_true")

    clients = sub.add_parser("clients", help="registered TPPs: list, suspend, resume")
    clients_sub = clients.add_subparsers(dest="clients_command", required=True)
    clients_list = clients_sub.add_parser("list", help="every registered client and its status")
    clients_list.add_argument("--json", action="store_true")
    for name, text in (("suspend", "refuse the client everywhere at once"), ("resume", "let it in again")):
        command = clients_sub.add_parser(name, help=text)
        command.add_argument("client_id", metavar="CLIENT_ID")
        command.add_argument("--json", action="store_true")

    consents = sub.add_parser("consents", help="consents: list, revoke")
    consents_sub = consents.add_subparsers(dest="consents_command", required=True)
    consents_list = consents_sub.add_parser("list", help="every consent (of one client with --client)")
    consents_list.add_argument("--client", metavar="CLIENT_ID", default=None)
    consents_list.add_argument("--json", action="store_true")
    consents_revoke = consents_sub.add_parser("revoke", help="revoke a consent and its tokens (audited)")
    consents_revoke.add_argument("consent_id", metavar="CONSENT_ID")
    consents_revoke.add_argument("--json", action="store_true")

    sub.add_parser("sandbox", help="sandbox tools: psus, tpp create, seed (see 'obgw sandbox --help')",
                   add_help=False)
    importlib.import_module("gateway.cli.events").add_arguments(sub)
    importlib.import_module("gateway.cli.bank_check.command").add_arguments(sub)
    bench = sub.add_parser("bench", help="measure the hot path side by side with nginx and a Python proxy (wrk)")
    importlib.import_module("gateway.cli.bench.run").add_arguments(bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "sandbox":
        return cmd_sandbox(argparse.Namespace(), args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command == "serve" and args.component is None:
        args.component = ["gateway"]
    handlers = {
        "up": cmd_up,
        "serve": cmd_serve,
        "migrate": cmd_migrate,
        "bench": cmd_bench,
        "clients": cmd_clients,
        "consents": cmd_consents,
    }
    if args.command == "keys":
        return cmd_keys_rotate(args)
    if args.command == "audit":
        return cmd_audit_prune(args) if args.audit_command == "prune" else cmd_audit_verify(args)
    if args.command == "bank":
        return int(importlib.import_module("gateway.cli.bank_check.command").command(args))
    if args.command == "events":
        settings = _settings()
        return int(importlib.import_module("gateway.cli.events").command(args, lambda work: _checked(settings, work)))
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
