"""``obgw audit prune`` (docs/architecture.md section 8.2): by default nothing younger than two years goes; with
``--before`` the older events are pruned behind a checkpoint and ``obgw audit verify`` still passes, a tampered
kept event still fails it, and ``--dry-run`` changes nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC
from datetime import datetime
from pathlib import Path

import httpx

from tests.helpers.consents import intent_claims
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import tokens_for


def _obgw(var_dir: Path, *argv: str) -> tuple[int, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    env["OBGW_VAR_DIR"] = str(var_dir)
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "audit", *argv, "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout)


def _seqs(var_dir: Path) -> list[int]:
    with sqlite3.connect(var_dir / "obgw.db") as conn:
        return [row[0] for row in conn.execute("SELECT seq FROM consent_event ORDER BY seq")]


async def _authorised_consent(client: httpx.AsyncClient, db, fapi) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, fapi.client_id)
    await tokens_for(client, fapi, scope="openid accounts", claims=intent_claims(consent_id))


async def test_prune_then_verify_passes_and_tampering_still_fails(client: httpx.AsyncClient, db,  # type: ignore[no-untyped-def]
                                                                  var_dir: Path) -> None:
    fapi = await insert_client(db)
    await _authorised_consent(client, db, fapi)  # events 1 and 2
    await _authorised_consent(client, db, fapi)  # events 3 and 4
    with sqlite3.connect(var_dir / "obgw.db") as conn:
        third = conn.execute("SELECT at FROM consent_event WHERE seq = 3").fetchone()[0]
    cut = datetime.fromisoformat(third).astimezone(UTC).isoformat()  # events before the third one go

    code, dry = _obgw(var_dir, "prune", "--before", cut, "--dry-run")
    assert code == 0 and (dry["dry_run"], dry["pruned"], dry["through_seq"]) == (True, 2, 2)
    assert _seqs(var_dir) == [1, 2, 3, 4]

    code, done = _obgw(var_dir, "prune", "--before", cut)
    assert code == 0 and (done["pruned"], done["first_seq"], done["through_seq"], done["checkpoint"]) == (2, 1, 2, 1)
    assert _seqs(var_dir) == [3, 4]
    code, report = _obgw(var_dir, "verify")
    assert code == 0, report
    assert (report["ok"], report["events"], report["pruned_through"]) == (True, 2, 2)

    with sqlite3.connect(var_dir / "obgw.db") as conn:
        conn.execute("UPDATE consent_event SET actor_id = 'someone-else' WHERE seq = 4")
    code, report = _obgw(var_dir, "verify")
    assert code == 1 and (report["seq"], report["reason"]) == (4, "altered")
    code, refused = _obgw(var_dir, "prune", "--before", datetime.now(UTC).isoformat())
    assert code == 1 and refused["ok"] is False and _seqs(var_dir) == [3, 4]


async def test_prune_by_default_keeps_two_years_and_changes_nothing_here(client: httpx.AsyncClient, db,  # type: ignore[no-untyped-def]
                                                                         var_dir: Path) -> None:
    fapi = await insert_client(db)
    await _authorised_consent(client, db, fapi)
    code, done = _obgw(var_dir, "prune")
    assert code == 0 and done["pruned"] == 0
    assert datetime.fromisoformat(str(done["before"])).year == datetime.now(UTC).year - 2
    assert _seqs(var_dir) == [1, 2]
    with sqlite3.connect(var_dir / "obgw.db") as conn:
        assert conn.execute("SELECT count(*) FROM consent_audit_checkpoint").fetchone()[0] == 0
    code, report = _obgw(var_dir, "verify")
    assert code == 0 and report["pruned_through"] == 0
