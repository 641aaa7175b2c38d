"""``obgw events log`` and ``obgw events replay`` on a real gateway database: the log shows the event a revocation
emitted, replay makes it due again with the same jti."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from consent import service
from consent.notifications import EventNotification
from gateway.oauth import operators
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client


def _obgw(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    env["OBGW_VAR_DIR"] = str(var_dir)
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", "events", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_log_then_replay(client, db, var_dir: Path) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    consent_id = await lodge_account_access(db, fapi.client_id)
    async with db.session() as session:
        await service.authorise(session=session, consent_id=consent_id, client_id=fapi.client_id, psu_id="psu-1",
                                account_ids=["a-1"], available_account_ids=["a-1"], now=datetime.now(UTC))
    await operators.revoke_consent(db=db, consent_id=consent_id)
    logged = _obgw(var_dir, "log", "--client", fapi.client_id, "--json")
    assert logged.returncode == 0, logged.stderr
    (entry,) = json.loads(logged.stdout)
    assert (entry["resource_id"], entry["state"], entry["log"]) == (consent_id, "pending", [])
    async with db.session() as session:
        event: Any = await session.get(EventNotification, 1)
        event.state, event.attempts = "failed", 8
        session.add(event)
        await session.commit()
    replayed = _obgw(var_dir, "replay", "--jti", entry["jti"], "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == {"replayed": [entry["jti"]]}
    async with db.session() as session:
        again: Any = await session.get(EventNotification, 1, populate_existing=True)
        assert (again.jti, again.state, again.attempts) == (entry["jti"], "pending", 0)


def test_replay_needs_a_selection(var_dir: Path) -> None:
    done = _obgw(var_dir, "replay")
    assert done.returncode != 0 and "name what to replay" in done.stderr
