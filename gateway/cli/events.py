"""``obgw events log`` and ``obgw events replay``: the event-notification delivery log and replay for operators
(docs/architecture.md section 7). Replay makes events due again with their own ``jti``; the running delivery
worker of any replica pushes them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.store.db import Database
from gateway.store.db import utcnow


def add_arguments(sub: Any) -> None:
    events = sub.add_parser("events", help="event notifications: delivery log, replay")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    log = events_sub.add_parser("log", help="each event (newest first) with its delivery attempts")
    log.add_argument("--client", metavar="CLIENT_ID", default=None)
    log.add_argument("--limit", type=int, default=100)
    log.add_argument("--json", action="store_true")
    replay = events_sub.add_parser("replay", help="send events again, with the same jti")
    replay.add_argument("--jti", default=None)
    replay.add_argument("--client", metavar="CLIENT_ID", default=None)
    replay.add_argument("--since", type=datetime.fromisoformat, default=None, help="ISO 8601, with a zone")
    replay.add_argument("--until", type=datetime.fromisoformat, default=None, help="ISO 8601, with a zone")
    replay.add_argument("--json", action="store_true")


def command(args: argparse.Namespace, checked: Callable[[Any], Any]) -> int:
    """``checked(work)`` runs ``work(db)`` on the checked gateway database (``gateway.cli.main._checked``)."""
    from gateway.events import outbox

    if args.events_command == "log":
        entries = checked(lambda db: outbox.delivery_log(db=db, client_id=args.client, limit=args.limit))
        if args.json:
            print(json.dumps(entries))
            return 0
        for e in entries:
            print(f"{e['jti']}  {e['state']:<12}  {e['attempts']} attempt(s)  client {e['client_id']}  "
                  f"{e['event_type'].rsplit(':', 1)[-1]} {e['resource_id']}  {e['last_error']}")
        print(f"{len(entries)} event(s)")
        return 0
    for moment in (args.since, args.until):
        if moment is not None and moment.tzinfo is None:
            raise SystemExit("obgw: --since and --until need a time zone, e.g. 2026-01-01T00:00:00+00:00")
    if not (args.jti or args.client or args.since or args.until):
        raise SystemExit("obgw: name what to replay: --jti, --client, --since or --until")

    async def work(db: Database) -> list[str]:
        return await outbox.replay(db=db, now=utcnow(), jti=args.jti, client_id=args.client, since=args.since,
                                   until=args.until)

    jtis = checked(work)
    print(json.dumps({"replayed": jtis}) if args.json else f"{len(jtis)} event(s) due again")
    return 0
