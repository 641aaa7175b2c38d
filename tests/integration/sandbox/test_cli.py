"""``obgw sandbox ...`` without a server: ``--json`` prints exactly one JSON document (errors too), the data
lands in the sandbox database under ``OBGW_VAR_DIR``, and private keys are printed once, never stored."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import jwt

from sandbox.cli import main
from sandbox.directory import generate_signing_key
from sandbox.directory import public_jwk


def run(argv: list[str], var_dir: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, environ={"OBGW_VAR_DIR": str(var_dir)}, out=out)
    return code, out.getvalue()


def test_psus_json_is_one_document(var_dir: Path) -> None:
    code, out = run(["psus", "--json"], var_dir)
    assert code == 0
    psus = json.loads(out)["psus"]
    assert [p["username"] for p in psus][:5] == ["alice", "bob", "carol", "dave", "erin"]
    assert all(p["password"] and p["accounts"] for p in psus)


def test_psus_human_lists_usernames_and_passwords(var_dir: Path) -> None:
    code, out = run(["psus"], var_dir)
    assert code == 0
    assert "alice / alice-wonderland" in out


def test_seed_creates_the_database_idempotently(var_dir: Path) -> None:
    assert run(["seed"], var_dir)[0] == 0
    assert run(["seed", "--json"], var_dir)[0] == 0
    with sqlite3.connect(var_dir / "sandbox.db") as conn:
        assert conn.execute("SELECT count(*) FROM sandbox_customer").fetchone()[0] == 5


def test_tpp_create_json_gives_a_verifiable_ssa_and_stores_no_private_key(var_dir: Path) -> None:
    code, out = run(
        ["tpp", "create", "--name", "CLI app", "--redirect-uri", "https://tpp.example/cb",
         "--redirect-uri", "https://tpp.example/cb2", "--role", "AISP", "--role", "PISP", "--json"],
        var_dir,
    )
    assert code == 0
    body: dict[str, Any] = json.loads(out)
    directory = json.loads((var_dir / "sandbox" / "directory-jwks.json").read_text())
    kid = jwt.get_unverified_header(body["software_statement"])["kid"]
    key = next(k for k in directory["keys"] if k["kid"] == kid)
    claims = jwt.decode(body["software_statement"], jwt.PyJWK(key).key, algorithms=["PS256"])
    assert claims["software_redirect_uris"] == ["https://tpp.example/cb", "https://tpp.example/cb2"]
    assert claims["software_roles"] == ["AISP", "PISP"]
    with sqlite3.connect(var_dir / "sandbox.db") as conn:
        rows = json.dumps(conn.execute("SELECT * FROM sandbox_software").fetchall())
    assert body["software_id"] in rows
    assert body["private_jwk"]["d"] not in rows


def test_tpp_create_with_jwks_file_and_tls_client_auth(var_dir: Path, tmp_path: Path) -> None:
    jwks = {"keys": [public_jwk(generate_signing_key(alg="ES256"))]}
    jwks_file = tmp_path / "tpp-jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    code, out = run(
        ["tpp", "create", "--name", "mTLS app", "--redirect-uri", "https://tpp.example/cb",
         "--auth", "tls_client_auth", "--jwks-file", str(jwks_file), "--json"],
        var_dir,
    )
    assert code == 0
    body = json.loads(out)
    assert "private_jwk" not in body
    assert body["tls_client_auth_subject_dn"].startswith(f"CN={body['software_id']},")
    assert "BEGIN CERTIFICATE" in body["client_certificate_pem"]


def test_tpp_create_with_a_bad_redirect_uri_prints_one_json_error(var_dir: Path) -> None:
    code, out = run(["tpp", "create", "--name", "x", "--redirect-uri", "ftp://x", "--json"], var_dir)
    assert code == 1
    error = json.loads(out)
    assert (error["error"], error["field"], error["rule"]) == ("invalid_request", "redirect_uris", "absolute_http_url")


def test_tpp_create_with_a_private_jwks_file_is_refused(var_dir: Path, tmp_path: Path) -> None:
    jwks_file = tmp_path / "private.json"
    jwks_file.write_text(json.dumps({"keys": [generate_signing_key(alg="ES256")]}))
    code, out = run(
        ["tpp", "create", "--name", "x", "--redirect-uri", "https://tpp.example/cb",
         "--jwks-file", str(jwks_file), "--json"],
        var_dir,
    )
    assert code == 1
    assert json.loads(out)["rule"] == "public_only"


def test_usage_error_is_exit_2_with_json(var_dir: Path) -> None:
    code, out = run(["tpp", "create", "--json"], var_dir)
    assert code == 2
    assert json.loads(out)["rule"] == "usage"
