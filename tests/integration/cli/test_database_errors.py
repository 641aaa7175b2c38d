"""Every ``obgw`` command pointed at a database it cannot use says which database, what is wrong and what to
do (``obgw migrate``, or check the URL), exits non-zero and prints no traceback (docs/architecture.md section
5: the CLI is for operators and scripts). Nothing is created on the way: a mistyped SQLite path stays absent."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.store.migrate import upgrade

READING_COMMANDS = [
    ["audit", "verify"],
    ["audit", "verify", "--json"],
    ["clients", "list"],
    ["clients", "suspend", "some-client"],
    ["consents", "list"],
    ["consents", "revoke", "some-consent"],
]


def _obgw(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def _refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    line = done.stderr.strip()
    assert line.count("\n") == 0, line  # one line
    for text in expected:
        assert text in line, line


@pytest.mark.parametrize("args", READING_COMMANDS, ids=" ".join)
def test_missing_sqlite_file_is_named_and_not_created(tmp_path: Path, args: list[str]) -> None:
    done = _obgw(args, OBGW_VAR_DIR=str(tmp_path / "var"))
    _refused(done, str(tmp_path / "var" / "obgw.db"), "obgw migrate")
    assert not (tmp_path / "var" / "obgw.db").exists()


@pytest.mark.parametrize("args", READING_COMMANDS, ids=" ".join)
def test_database_without_the_obgw_schema(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "var").mkdir()
    with sqlite3.connect(tmp_path / "var" / "obgw.db") as conn:
        conn.execute("CREATE TABLE someone_elses (x INTEGER)")
    _refused(_obgw(args, OBGW_VAR_DIR=str(tmp_path / "var")), "obgw.db", "not an obgw database", "obgw migrate")


def test_database_at_an_older_schema_revision(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'obgw.db'}"
    upgrade(url, revision="0001")
    _refused(_obgw(["audit", "verify"], OBGW_DATABASE_URL=url), "revision", "obgw migrate")


@pytest.mark.parametrize("args", [*READING_COMMANDS, ["migrate"], ["serve", "--no-migrate"]], ids=" ".join)
def test_unreachable_postgres_is_named_with_its_password_masked(args: list[str]) -> None:
    url = "postgresql+asyncpg://obgw:secret@127.0.0.1:1/obgw"
    done = _obgw(args, OBGW_DATABASE_URL=url)
    _refused(done, "cannot reach the database", "127.0.0.1:1", "OBGW_DATABASE_URL")
    assert "secret" not in done.stderr


def test_unparsable_database_url() -> None:
    _refused(_obgw(["audit", "verify"], OBGW_DATABASE_URL="not a url"), "not a usable database URL")


def test_sandbox_command_on_an_unreachable_database() -> None:
    done = _obgw(["sandbox", "seed"], OBGW_SANDBOX_DATABASE_URL="postgresql+asyncpg://x@127.0.0.1:1/sandbox")
    _refused(done, "sandbox database", "127.0.0.1:1", "OBGW_SANDBOX_DATABASE_URL")


def test_a_migrated_database_verifies(tmp_path: Path) -> None:
    var = str(tmp_path / "var")
    assert _obgw(["migrate"], OBGW_VAR_DIR=var).returncode == 0
    done = _obgw(["audit", "verify"], OBGW_VAR_DIR=var)
    assert done.returncode == 0 and "intact" in done.stdout, done.stderr
