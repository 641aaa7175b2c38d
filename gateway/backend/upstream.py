"""The transport under ``gateway.backend.bank``: the gateway's one HTTP stack to the bank (the sandbox bank, or a
real bank's adapter).

docs/architecture.md section 3 step 7: pooled keep-alive connections (aiohttp: on this machine a proxy built on it
handled about 2,000 requests/s against about 230 with httpx), a connect and a total timeout, bounded retries for
safe methods only (RFC 9110 section 9.2.2: GET is idempotent, so repeating it after a connection failure or a
502/503/504 changes nothing), and a circuit breaker so that a failing backend is not hammered and callers fail
fast. Failures become OBIE ``OBErrorResponse1`` (R/W API "HTTP Status Codes": 5xx with
``UK.OBIE.UnexpectedError``): unreachable or broken backend 502, circuit open 503, timeout 504.

Each failure is counted in ``obgw_upstream_errors_total`` by kind (``connect``, ``timeout``, ``5xx``,
``circuit-open``) and the breaker's state is published in ``obgw_upstream_circuit_state`` whenever it changes,
labelled with the upstream's name (docs/production.md section 5).

The session is created on first use, inside the running event loop; ``close()`` releases the pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from typing import Protocol

import aiohttp

from gateway.errors import UpstreamError
from gateway.observability import metrics

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES: Final = frozenset({502, 503, 504})


@dataclass(frozen=True, kw_only=True)
class UpstreamResponse:
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str]


class Transport(Protocol):
    """What ``gateway.backend.bank.Bank`` sends its calls over: ``Upstream`` in every deployment."""

    async def request(
        self, method: str, path_and_query: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> UpstreamResponse: ...

    async def close(self) -> None: ...


class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures; open refuses for ``cooldown`` seconds; then one
    trial call at a time (half-open) closes it on success or opens it again on failure."""

    def __init__(self, *, threshold: int = 5, cooldown: float = 10.0) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be >= 1 and cooldown > 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self._opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def retry_after(self) -> int:
        if self._opened_at is None:
            return 0
        return max(1, int(self.cooldown - (time.monotonic() - self._opened_at)) + 1)

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self.threshold:
            self._opened_at = time.monotonic()
        self._trial_running = False


def upstream_error(status: int, message: str, *, detail: str | None = None) -> UpstreamError:
    return UpstreamError(message, detail=detail, status_code=status)


class Upstream:
    def __init__(
        self,
        *,
        base_url: str,
        connect_timeout: float = 2.0,
        total_timeout: float = 10.0,
        retries: int = 2,
        retry_backoff: float = 0.05,
        pool_size: int = 200,
        breaker: CircuitBreaker | None = None,
        name: str = "bank",
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self._retries = retries
        self._backoff = retry_backoff
        self._pool_size = pool_size
        self.breaker = breaker or CircuitBreaker()
        self._session: aiohttp.ClientSession | None = None
        self._published = ""
        self._publish()

    def _publish(self) -> None:
        """Set the circuit gauge when the breaker's state changed since the last call (cheap on the hot path)."""
        state = self.breaker.state
        if state != self._published:
            metrics.circuit_state(upstream=self.name, state=state)
            self._published = state

    def _failed(self, kind: str) -> None:
        metrics.upstream_error(upstream=self.name, kind=kind)
        self._publish()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=True, raise_for_status=False
            )
        return self._session

    async def request(
        self, method: str, path_and_query: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> UpstreamResponse:
        """Send one request; retried (GET/HEAD/OPTIONS only) on connection failures and 502/503/504."""
        method = method.upper()
        attempts = 1 + (self._retries if method in SAFE_METHODS else 0)
        url = self.base_url + path_and_query
        last: UpstreamError | None = None
        for attempt in range(attempts):
            allowed = self.breaker.allow()
            self._publish()
            if not allowed:
                self._failed("circuit-open")
                error = upstream_error(503, "The account service is temporarily unavailable")
                error.headers["Retry-After"] = str(self.breaker.retry_after())
                raise error
            try:
                async with self._client().request(method, url, headers=dict(headers), data=body) as response:
                    payload = await response.read()
                    result = UpstreamResponse(
                        status=response.status,
                        content_type=response.headers.get("content-type", ""),
                        body=payload,
                        headers={k.lower(): v for k, v in response.headers.items()},
                    )
            except TimeoutError:
                # Not retried: the time budget is spent, a retry would only double the caller's wait.
                self.breaker.failure()
                self._failed("timeout")
                raise upstream_error(504, "The account service did not answer in time", detail=url) from None
            except aiohttp.ClientError as exc:
                self.breaker.failure()
                self._failed("connect")
                last = upstream_error(502, "The account service could not be reached", detail=f"{url}: {exc!r}")
            else:
                if result.status in RETRYABLE_STATUSES or result.status >= 500:
                    self.breaker.failure()
                    self._failed("5xx")
                    last = upstream_error(502, "The account service failed", detail=f"{url}: {result.status}")
                    if result.status not in RETRYABLE_STATUSES:
                        raise last
                else:
                    self.breaker.success()
                    self._publish()
                    return result
            if attempt + 1 < attempts:
                await asyncio.sleep(self._backoff * (2**attempt))
        assert last is not None
        raise last

    async def get(self, path_and_query: str, *, headers: Mapping[str, str]) -> UpstreamResponse:
        return await self.request("GET", path_and_query, headers=headers)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
