"""The getting-started guide documents the first payment and every scenario control the gateway mounts."""

from __future__ import annotations

import httpx

from gateway.hosting import sandbox_controls
from gateway.settings import Settings


async def test_the_guide_documents_every_scenario_control(sandbox: httpx.AsyncClient, var_dir) -> None:  # type: ignore[no-untyped-def]
    page = await sandbox.get("/portal/docs/getting-started")
    assert page.status_code == 200
    assert 'id="first-payment"' in page.text
    assert 'id="scenario-controls"' in page.text
    for route in sandbox_controls.routes(Settings(var_dir=var_dir)):
        documented = route.path.replace("{consent_id:str}", "{ConsentId}").replace("{payment_id:str}", "{PaymentId}")  # type: ignore[attr-defined]
        assert documented in page.text, documented
