"""The upstream client: bounded retries for GET only, timeouts, circuit breaker, OBIE 502/503/504 (real sockets on
127.0.0.1 through aiohttp's test server)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.backend.upstream import CircuitBreaker
from gateway.backend.upstream import Upstream
from gateway.errors import UpstreamError
from gateway.observability import metrics


class Bank:
    def __init__(self) -> None:
        self.calls = 0
        self.statuses: list[int] = []
        self.delay = 0.0

    async def handler(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"Data": {}, "path": request.path_qs}, status=status)


@pytest.fixture
async def bank() -> AsyncIterator[tuple[Bank, str]]:
    state = Bank()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield state, str(server.make_url("")).rstrip("/")
    await server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_get_returns_the_backend_answer(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    upstream = Upstream(base_url=url)
    try:
        answer = await upstream.get("/bank/v1/aisp/accounts?page=2", headers={"x": "1"})
    finally:
        await upstream.close()
    assert answer.status == 200 and b"/bank/v1/aisp/accounts?page=2" in answer.body


async def test_get_is_retried_after_503_and_succeeds(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.statuses = [503, 502]
    upstream = Upstream(base_url=url, retries=2, retry_backoff=0.001)
    try:
        answer = await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert answer.status == 200 and state.calls == 3


async def test_retries_are_bounded_then_502(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.statuses = [503, 503, 503, 503]
    upstream = Upstream(base_url=url, retries=2, retry_backoff=0.001)
    try:
        with pytest.raises(UpstreamError) as caught:
            await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert caught.value.status_code == 502 and caught.value.errors[0].code == "UK.OBIE.UnexpectedError"
    assert state.calls == 3


async def test_post_is_never_retried(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.statuses = [503, 200]
    upstream = Upstream(base_url=url, retries=2, retry_backoff=0.001)
    try:
        with pytest.raises(UpstreamError) as caught:
            await upstream.request("POST", "/x", headers={}, body=b"{}")
    finally:
        await upstream.close()
    assert caught.value.status_code == 502 and state.calls == 1


async def test_client_errors_are_answers_not_failures(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.statuses = [400]
    upstream = Upstream(base_url=url)
    try:
        answer = await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert answer.status == 400 and state.calls == 1 and upstream.breaker.state == "closed"


async def test_slow_backend_is_504(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.delay = 1.0
    upstream = Upstream(base_url=url, total_timeout=0.2)
    try:
        with pytest.raises(UpstreamError) as caught:
            await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert caught.value.status_code == 504 and caught.value.errors[0].code == "UK.OBIE.UnexpectedError"
    assert state.calls == 1


async def test_unreachable_backend_is_502() -> None:
    upstream = Upstream(base_url=f"http://127.0.0.1:{_free_port()}", retries=1, retry_backoff=0.001)
    try:
        with pytest.raises(UpstreamError) as caught:
            await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert caught.value.status_code == 502


async def test_circuit_opens_after_repeated_failures_and_answers_503_without_calling(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.statuses = [500] * 10
    upstream = Upstream(base_url=url, retries=0, breaker=CircuitBreaker(threshold=3, cooldown=60))
    try:
        for _ in range(3):
            with pytest.raises(UpstreamError):
                await upstream.get("/x", headers={})
        calls = state.calls
        with pytest.raises(UpstreamError) as caught:
            await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert caught.value.status_code == 503 and int(caught.value.headers["Retry-After"]) >= 1
    assert state.calls == calls == 3


async def test_half_open_circuit_closes_after_one_good_trial(bank) -> None:  # type: ignore[no-untyped-def]
    state, url = bank
    state.statuses = [500]
    breaker = CircuitBreaker(threshold=1, cooldown=0.05)
    upstream = Upstream(base_url=url, retries=0, breaker=breaker)
    try:
        with pytest.raises(UpstreamError):
            await upstream.get("/x", headers={})
        assert breaker.state == "open"
        await asyncio.sleep(0.06)
        assert breaker.state == "half-open"
        assert (await upstream.get("/x", headers={})).status == 200
    finally:
        await upstream.close()
    assert breaker.state == "closed"


def _sample(name: str, **labels: str) -> float:
    value = metrics.metrics().registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_each_failure_is_counted_by_kind_and_the_circuit_state_is_published(bank) -> None:  # type: ignore[no-untyped-def]
    # docs/production.md section 5: obgw_upstream_errors_total by kind, obgw_upstream_circuit_state per upstream.
    state, url = bank
    state.statuses = [500] * 2
    name = "bank-metrics-test"
    upstream = Upstream(base_url=url, retries=0, breaker=CircuitBreaker(threshold=2, cooldown=0.05), name=name)
    assert _sample("obgw_upstream_circuit_state", upstream=name) == 0
    try:
        for _ in range(2):
            with pytest.raises(UpstreamError):
                await upstream.get("/x", headers={})
        assert _sample("obgw_upstream_errors_total", upstream=name, kind="5xx") == 2
        assert _sample("obgw_upstream_circuit_state", upstream=name) == 2  # open
        with pytest.raises(UpstreamError):
            await upstream.get("/x", headers={})
        assert _sample("obgw_upstream_errors_total", upstream=name, kind="circuit-open") == 1
        await asyncio.sleep(0.06)
        assert (await upstream.get("/x", headers={})).status == 200  # the half-open trial succeeds
    finally:
        await upstream.close()
    assert _sample("obgw_upstream_circuit_state", upstream=name) == 0  # closed again


async def test_an_unreachable_backend_counts_as_a_connect_error() -> None:
    name = "bank-connect-test"
    upstream = Upstream(base_url=f"http://127.0.0.1:{_free_port()}", retries=0, name=name)
    try:
        with pytest.raises(UpstreamError):
            await upstream.get("/x", headers={})
    finally:
        await upstream.close()
    assert _sample("obgw_upstream_errors_total", upstream=name, kind="connect") == 1
