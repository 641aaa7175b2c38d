"""Two gateway replicas over one PostgreSQL and one Redis (docs/architecture.md section 4): whatever is single use or
revoked on A is so on B at once, because the state lives in the shared stores and there are no per-replica
caches: revoked tokens (RFC 7009), DPoP proof ``jti`` (RFC 9449 section 11.1), authorization codes (RFC 6749
section 4.1.2), ``request_uri`` handles (RFC 9126 section 2.2) and consents revoked by the customer
(docs/architecture.md journey 6: "from that moment every replica refuses the TPP's tokens for it")."""

from __future__ import annotations

import time

import httpx

from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import hidden_field
from tests.scale.conftest import Replicas
from tests.scale.journey import CONSENTS
from tests.scale.journey import approve
from tests.scale.journey import client_credentials
from tests.scale.journey import create_consent
from tests.scale.journey import onboard
from tests.scale.journey import push
from tests.scale.journey import redeem
from tests.scale.journey import run_journey

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def get_consent(http: httpx.AsyncClient, fapi, consent_id: str, token: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    path = f"{CONSENTS}/{consent_id}"
    return await http.get(path, headers={"Authorization": f"DPoP {token}",
                                         "DPoP": fapi.dpop("GET", path, access_token=token)})  # fmt: skip


async def test_both_replicas_are_ready_on_postgres_and_redis(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, _):
        for replica in (a, b):
            ready = await replica.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "upstream": "ok"}


async def test_token_revoked_on_a_is_refused_on_b(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        fapi = await onboard(a, sandbox, issuer=two_replicas.issuer)
        token = await client_credentials(a, fapi)
        consent_id = await create_consent(a, fapi, token)
        assert (await get_consent(b, fapi, consent_id, token)).status_code == 200

        revoked = await a.post("/revoke", data={"token": token, **fapi.auth()}, headers=FORM)
        assert revoked.status_code == 200
        refused = await get_consent(b, fapi, consent_id, token)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_dpop_proof_used_on_a_is_refused_on_b(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        fapi = await onboard(a, sandbox, issuer=two_replicas.issuer)
        proof = fapi.dpop("POST", "/token")
        form = {"grant_type": "client_credentials", "scope": "accounts"}
        first = await a.post("/token", data={**form, **fapi.auth()}, headers={**FORM, "DPoP": proof})
        assert first.status_code == 200, first.text
        replay = await b.post("/token", data={**form, **fapi.auth()}, headers={**FORM, "DPoP": proof})
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_dpop_proof"


async def test_client_assertion_used_on_a_is_refused_on_b(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        fapi = await onboard(a, sandbox, issuer=two_replicas.issuer)
        auth = fapi.auth()
        form = {"grant_type": "client_credentials", "scope": "accounts"}
        first = await a.post("/token", data={**form, **auth}, headers={**FORM, "DPoP": fapi.dpop("POST", "/token")})
        assert first.status_code == 200, first.text
        replay = await b.post("/token", data={**form, **auth}, headers={**FORM, "DPoP": fapi.dpop("POST", "/token")})
        assert replay.status_code == 401
        assert replay.json()["error"] == "invalid_client"


async def test_authorization_code_redeemed_on_a_is_refused_on_b(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        fapi = await onboard(a, sandbox, issuer=two_replicas.issuer)
        consent_id = await create_consent(a, fapi, await client_credentials(a, fapi))
        request_uri, verifier = await push(a, fapi, consent_id)
        code = await approve(a, fapi, request_uri)
        assert (await redeem(a, fapi, code, verifier)).status_code == 200
        replay = await redeem(b, fapi, code, verifier)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"


async def test_request_uri_used_on_a_is_refused_on_b(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        fapi = await onboard(a, sandbox, issuer=two_replicas.issuer)
        consent_id = await create_consent(a, fapi, await client_credentials(a, fapi))
        request_uri, _ = await push(a, fapi, consent_id)
        await approve(a, fapi, request_uri)
        again = await b.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})
        assert again.status_code == 400
        assert "invalid_request_uri" in again.text


async def test_consent_revoked_on_a_dashboard_is_refused_on_b_within_one_second(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        journey = await run_journey(a, sandbox, issuer=two_replicas.issuer)

        async def active_on_b() -> bool:
            response = await b.post("/introspect", data={"token": journey.access_token, **journey.fapi.auth()},
                                    headers=FORM)  # fmt: skip
            assert response.status_code == 200, response.text
            return bool(response.json()["active"])

        assert await active_on_b()
        # The customer revokes on replica A's dashboard.
        a.cookies.clear()
        page = await a.get("/consents")
        signed_in = await a.post("/consents/login", data={
            "csrf": hidden_field(page.text, "csrf"), "username": PSU_USERNAME, "password": PSU_PASSWORD})  # fmt: skip
        assert signed_in.status_code == 303, signed_in.text
        confirm = await a.get(f"/consents/{journey.consent_id}/revoke")
        assert confirm.status_code == 200
        done = await a.post(f"/consents/{journey.consent_id}/revoke", data={"csrf": hidden_field(confirm.text, "csrf")})
        assert done.status_code == 303
        revoked_at = time.perf_counter()

        polls = 0
        while await active_on_b():
            polls += 1
            assert time.perf_counter() - revoked_at < 1.0, "replica B still accepts the token 1 s after revocation"
        propagation = time.perf_counter() - revoked_at
        print(f"\nrevocation propagation A -> B: {propagation * 1000:.1f} ms ({polls} poll(s) saw it active)")
        assert propagation < 1.0
        # The refresh token is dead on B too.
        refresh = await journey.fapi.token(b, {"grant_type": "refresh_token", "refresh_token": journey.refresh_token})
        assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_both_replicas_count_their_own_requests_in_metrics(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, _):
        for replica in (a, b):
            body = (await replica.get("/metrics")).text
            assert 'obgw_http_requests_total{client_id="",method="GET",route="/readyz",status="200"}' in body
