"""``obgw clients suspend|resume|list`` and ``obgw consents list|revoke`` against the gateway's database while
the gateway serves: a suspended TPP is refused at once (client authentication: RFC 6749 section 5.2
``invalid_client``; resources: RFC 6750 section 3.1 ``invalid_token``), a resumed one works again, and an
operator-revoked consent's tokens introspect inactive (RFC 7662 section 2.2)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from consent.audit import verify_chain
from consent.models import ConsentEvent
from gateway.cli import main as cli
from gateway.settings import Settings
from gateway.store.db import Database
from tests.scale.journey import CONSENTS
from tests.scale.journey import Journey
from tests.scale.journey import client_credentials


async def obgw(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings,
               *argv: str) -> tuple[int, str, str]:
    """Run the ``obgw`` command line against the test's database, as an operator's shell would."""
    monkeypatch.setenv("OBGW_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("OBGW_DATABASE_URL", settings.database_url)
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


async def introspect(client: httpx.AsyncClient, journey: Journey, token: str) -> dict[str, object]:
    response = await client.post("/introspect", data={"token": token, **journey.fapi.auth()})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def get_consent(client: httpx.AsyncClient, journey: Journey, token: str) -> httpx.Response:
    path = f"{CONSENTS}/{journey.consent_id}"
    return await client.get(path, headers={
        "Authorization": f"DPoP {token}", "DPoP": journey.fapi.dpop("GET", path, access_token=token),
    })  # fmt: skip


async def test_clients_list_shows_the_registered_client_as_active(
    client: httpx.AsyncClient, journey: Journey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = await obgw(monkeypatch, capsys, settings, "clients", "list", "--json")
    assert code == 0
    rows = {row["client_id"]: row for row in json.loads(out)}
    assert rows[journey.client_id]["status"] == "active"
    assert "jwks" not in rows[journey.client_id] and "software_statement" not in rows[journey.client_id]


async def test_suspended_client_is_refused_at_the_token_endpoint_and_at_resources_then_resumed(
    client: httpx.AsyncClient, journey: Journey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = await client_credentials(client, journey.fapi)
    assert (await get_consent(client, journey, token)).status_code == 200

    code, out, _ = await obgw(monkeypatch, capsys, settings, "clients", "suspend", journey.client_id, "--json")
    assert code == 0 and json.loads(out)["status"] == "suspended"

    refused = await journey.fapi.token(client, {"grant_type": "client_credentials", "scope": "accounts"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    resource = await get_consent(client, journey, token)
    assert resource.status_code == 401
    assert 'error="invalid_token"' in resource.headers["www-authenticate"]
    # Every client-authenticated endpoint refuses it too (RFC 7662 section 2.1 needs client authentication).
    introspection = await client.post("/introspect", data={"token": token, **journey.fapi.auth()})
    assert introspection.status_code == 401 and introspection.json()["error"] == "invalid_client"

    code, out, _ = await obgw(monkeypatch, capsys, settings, "clients", "resume", journey.client_id)
    assert code == 0 and "active" in out
    assert (await get_consent(client, journey, token)).status_code == 200
    assert (await journey.fapi.token(client, {"grant_type": "client_credentials", "scope": "accounts"})).status_code == 200


async def test_suspending_an_unknown_client_fails_and_changes_nothing(
    client: httpx.AsyncClient, journey: Journey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = await obgw(monkeypatch, capsys, settings, "clients", "suspend", "no-such-client")
    assert code == 1 and "no-such-client" in err
    code, out, _ = await obgw(monkeypatch, capsys, settings, "clients", "list", "--json")
    assert all(row["status"] == "active" for row in json.loads(out))


async def test_consents_list_filters_by_client(
    client: httpx.AsyncClient, journey: Journey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = await obgw(monkeypatch, capsys, settings, "consents", "list", "--client", journey.client_id,
                              "--json")  # fmt: skip
    assert code == 0
    rows = json.loads(out)
    assert [row["consent_id"] for row in rows] == [journey.consent_id]
    assert rows[0]["status"] == "Authorised" and len(rows[0]["accounts"]) == 1
    code, out, _ = await obgw(monkeypatch, capsys, settings, "consents", "list", "--client", "someone-else",
                              "--json")  # fmt: skip
    assert code == 0 and json.loads(out) == []


async def test_operator_revoke_makes_the_consent_tokens_inactive_and_is_audited_as_system(
    client: httpx.AsyncClient, journey: Journey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (await introspect(client, journey, journey.access_token))["active"] is True

    code, out, _ = await obgw(monkeypatch, capsys, settings, "consents", "revoke", journey.consent_id, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "Revoked" and result["tokens_revoked"] == 2  # access + refresh

    assert (await introspect(client, journey, journey.access_token))["active"] is False
    assert (await introspect(client, journey, journey.refresh_token))["active"] is False
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            from sqlmodel import select

            events = (await session.exec(
                select(ConsentEvent).where(ConsentEvent.consent_id == journey.consent_id).order_by(ConsentEvent.seq)
            )).all()  # fmt: skip
            assert (events[-1].event, events[-1].actor_type, events[-1].actor_id) == ("revoked", "system", "operator")
            assert (await verify_chain(session=session)).ok
    finally:
        await db.dispose()


async def test_revoking_a_consent_twice_is_refused(
    client: httpx.AsyncClient, journey: Journey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (await obgw(monkeypatch, capsys, settings, "consents", "revoke", journey.consent_id))[0] == 0
    code, _, err = await obgw(monkeypatch, capsys, settings, "consents", "revoke", journey.consent_id)
    assert code == 1 and "cannot be revoked" in err
    code, _, err = await obgw(monkeypatch, capsys, settings, "consents", "revoke", "aac-unknown")
    assert code == 1 and "no consent" in err


def test_cli_lists_the_operator_commands(tmp_path: Path) -> None:
    parser = cli.build_parser()
    for argv in (["clients", "list"], ["clients", "suspend", "c"], ["clients", "resume", "c"],
                 ["consents", "list", "--client", "c"], ["consents", "revoke", "x"]):  # fmt: skip
        assert parser.parse_args(argv).command == argv[0]
