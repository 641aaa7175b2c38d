"""Operations tests run the real journey in-process; ``journey`` is one TPP's completed code flow."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ISSUER
from tests.scale.journey import Journey
from tests.scale.journey import run_journey


@pytest.fixture
async def journey(client: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> Journey:
    return await run_journey(client, sandbox, issuer=ISSUER)
