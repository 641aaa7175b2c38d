"""``obgw bank check`` (docs/bank-integration.md section 4): against the sandbox bank every check passes and the
exit code is 0; against a deliberately broken adapter (one answer in the wrong schema, one operation missing,
one bad signature accepted) exactly those failures are named, with their reasons, and the exit code is 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from gateway.cli.bank_check import command
from gateway.cli.main import build_parser
from gateway.security.keys import KeyStore
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL


def _args(*extra: str) -> Any:
    return build_parser().parse_args(["bank", "check", "--url", SANDBOX_URL, *extra])


@pytest.fixture
def key_file(tmp_path: Path, gateway_keys: KeyStore) -> Path:
    path = tmp_path / "context-key.json"
    path.write_text(json.dumps(gateway_keys.context_key))
    return path


async def test_the_sandbox_bank_passes_every_check_and_exits_0(
    sandbox_app: Any, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await command.execute(_args("--key", str(key_file), "--issuer", ISSUER, "--sandbox", "--json"),
                                 transport=httpx.ASGITransport(app=sandbox_app))
    report = json.loads(capsys.readouterr().out)
    assert [c for c in report["checks"] if c["outcome"] != "pass"] == []
    assert report["passed"] is True and code == 0
    names = {c["check"] for c in report["checks"]}
    for refusal in ("refuses a call without x-obgw-context", "refuses a context with a bad signature",
                    "refuses an expired context", "refuses a context for another audience",
                    "refuses another consent's account (403)", "refuses a replayed context (jti single use)"):
        assert refusal in names


async def test_without_sandbox_the_scenarios_are_skipped_and_the_gateway_key_signs(
    sandbox_app: Any, var_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No --key: the gateway's own context key from its configuration (OBGW_VAR_DIR), its issuer from OBGW_ISSUER.
    monkeypatch.setenv("OBGW_VAR_DIR", str(var_dir))
    monkeypatch.setenv("OBGW_ISSUER", ISSUER)
    code = await command.execute(_args(), transport=httpx.ASGITransport(app=sandbox_app))
    table = capsys.readouterr().out
    assert code == 0, table
    assert "SKIP    sandbox scenario /bank/v1/sandbox/payments/{PaymentId}/settle" in table
    assert "0 failed" in table and "all checks passed" in table


class BrokenAdapter:
    """The sandbox behind a faulty adapter: balances in the wrong schema, no standing orders, and the single
    account path accepting a context whose signature does not verify."""

    def __init__(self, inner: Any, public_key: Any) -> None:
        self.inner = inner
        self.public_key = public_key

    async def _json(self, send: Send, status: int, body: Any) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/bank/v1/aisp/balances":
            return await self._json(send, 200, {"Data": {"Balance": "plenty"}, "Links": {"Self": "x"}, "Meta": {}})
        if method == "POST" and path == "/bank/v1/pisp/domestic-standing-orders":
            return await self._json(send, 404, {"error": "not_found"})
        if method == "GET" and path.startswith("/bank/v1/aisp/accounts/") and path.count("/") == 5:
            token = dict(scope["headers"]).get(b"x-obgw-context", b"").decode()
            try:
                jwt.decode(token, self.public_key, algorithms=["ES256"], options={"verify_aud": False})
            except jwt.InvalidSignatureError:
                return await self._json(send, 200, {"Data": {"Account": []}, "Links": {"Self": "x"}, "Meta": {}})
            except jwt.PyJWTError:
                pass
        return await self.inner(scope, receive, send)


async def test_a_broken_adapter_fails_the_named_checks_with_reasons_and_exits_1(
    sandbox_app: Any, key_file: Path, gateway_keys: KeyStore, capsys: pytest.CaptureFixture[str]
) -> None:
    public = jwt.PyJWK(gateway_keys.context_key).key.public_key()
    broken = BrokenAdapter(sandbox_app, public)
    code = await command.execute(_args("--key", str(key_file), "--issuer", ISSUER),
                                 transport=httpx.ASGITransport(app=broken))
    table = capsys.readouterr().out
    assert code == 1
    failed = [line for line in table.splitlines() if line.startswith("FAIL")]
    assert any("answers /balances" in line and "BankGetBalances" in line and "Data/Balance" in line
               for line in failed), table
    assert any("executes a domestic-standing-orders payment" in line and "answered 404, expected 201" in line
               for line in failed), table
    assert any("refuses a context with a bad signature" in line and "answered 200, expected 401" in line
               for line in failed), table
    # The checks that depend on the missing operation fail too, naming what they needed; the rest pass.
    assert any("reads the domestic-standing-orders payment" in line and "not run: needs an executed" in line
               for line in failed), table
    unrelated = [line for line in failed if not any(
        word in line for word in ("/balances", "domestic-standing-orders", "bad signature"))]
    assert unrelated == []
    assert "PASS    answers /accounts/{AccountId}/balances" in table
    assert "PASS    refuses an expired context" in table


def test_a_key_that_is_not_private_is_refused_with_a_clear_message(tmp_path: Path, gateway_keys: KeyStore) -> None:
    public = tmp_path / "public.json"
    public.write_text(json.dumps(gateway_keys.public_jwks()["keys"][0]))
    with pytest.raises(SystemExit, match="not a private JWK"):
        command.command(_args("--key", str(public), "--issuer", ISSUER))
