"""``obgw audit verify``: the consent audit trail of a real run verifies; altering, removing or reordering a
stored event makes the command exit 1 and name the first broken link."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers.consents import intent_claims
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import tokens_for


def _verify(var_dir: Path) -> tuple[int, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    env["OBGW_VAR_DIR"] = str(var_dir)
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "audit", "verify", "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout)


async def _real_run(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    for _ in range(2):
        consent_id = await lodge_account_access(db, fapi.client_id)
        await tokens_for(client, fapi, scope="openid accounts", claims=intent_claims(consent_id))


async def test_audit_trail_of_a_real_run_verifies(client: httpx.AsyncClient, db, var_dir: Path) -> None:  # type: ignore[no-untyped-def]
    await _real_run(client, db)
    code, report = _verify(var_dir)
    assert code == 0, report
    assert report["ok"] is True and report["events"] == 4  # created + authorised, twice


async def test_altered_event_is_reported(client: httpx.AsyncClient, db, var_dir: Path) -> None:  # type: ignore[no-untyped-def]
    await _real_run(client, db)
    with sqlite3.connect(var_dir / "obgw.db") as conn:
        conn.execute("UPDATE consent_event SET actor_id = 'someone-else' WHERE seq = 2")
    code, report = _verify(var_dir)
    assert code == 1
    assert (report["ok"], report["seq"], report["reason"]) == (False, 2, "altered")


async def test_removed_event_is_reported(client: httpx.AsyncClient, db, var_dir: Path) -> None:  # type: ignore[no-untyped-def]
    await _real_run(client, db)
    with sqlite3.connect(var_dir / "obgw.db") as conn:
        conn.execute("DELETE FROM consent_event WHERE seq = 3")
    code, report = _verify(var_dir)
    assert code == 1
    assert report["reason"] == "removed"


async def test_reordered_events_are_reported(client: httpx.AsyncClient, db, var_dir: Path) -> None:  # type: ignore[no-untyped-def]
    await _real_run(client, db)
    with sqlite3.connect(var_dir / "obgw.db") as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        rows = conn.execute("SELECT seq, consent_id, event, actor_type, actor_id, at, detail, prev_hash, hash "
                            "FROM consent_event WHERE seq IN (1, 2) ORDER BY seq").fetchall()
        conn.execute("DELETE FROM consent_event WHERE seq IN (1, 2)")
        for (_seq, *rest), (other, *_) in zip(rows, reversed(rows), strict=True):
            conn.execute("INSERT INTO consent_event (seq, consent_id, event, actor_type, actor_id, at, detail, "
                         "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (other, *rest))
    code, report = _verify(var_dir)
    assert code == 1
    assert report["ok"] is False and report["seq"] == 1
