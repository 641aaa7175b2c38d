"""``obgw bench``: start the stack as real processes on free 127.0.0.1 ports, seed one consent and one token,
and measure side by side, in one run, requests/s and p50/p99 latency of

(a) the sandbox bank directly (``/bank/v1/aisp/...`` with a gateway-signed context);
(b) the gateway as a bare pass-through: a route that only signs the bank context and proxies through the same
    aiohttp upstream client, with no checks. It exists only in a gateway process started by this command
    (``python -m gateway.bench serve-gateway``), never in ``obgw serve``/``obgw up``;
(c) the gateway with every check on: DPoP-bound token lookup, DPoP proof verification (signature, htm/htu/iat,
    single-use jti, ath), consent check, request validation, rate limits, the bank call, response shaping and
    the audit record.

Client-side signing would dominate the measurement on a two-core machine, so the DPoP proofs for (c) and the
context tokens for (a) are signed before the timed window; each request still carries a fresh proof (unique
``jti``), checked in full by the gateway. The rate limits run with the shipped rules but larger numbers (a
policies copy), since one consent is far over the per-consent budget by design; the customer-present header is
sent so the PSD2 unattended budget does not apply. Everything listens on loopback only and every process started
here is stopped by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway import jose
from gateway.settings import Settings

PRESENT_IP = "127.0.0.1"
_RELAXED = "1000000/second"


def _say(message: str) -> None:
    print(f"obgw bench: {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _relaxed_policies(source: Path, target: Path) -> Path:
    """A copy of the rulebook whose rate limits are too large to trip during a few seconds of load."""
    shutil.copytree(source, target)
    path = target / "rate-limits.yaml"
    data = yaml.safe_load(path.read_text())
    data["tiers"] = {tier: dict.fromkeys(classes, _RELAXED) for tier, classes in data["tiers"].items()}
    data["per_consent"] = _RELAXED
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


# --------------------------------------------------------------------------- the gateway process


def serve_gateway(*, claims_file: Path) -> None:
    """The gateway as ``obgw serve`` builds it, plus the bench-only pass-through route."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from gateway.app import create_app
    from gateway.errors import interaction_id
    from gateway.pipeline import ais
    from gateway.pipeline.proxy import forward
    from gateway.services import services as services_of

    settings = Settings.from_env()
    claims = json.loads(claims_file.read_text())
    app = create_app(settings)
    pipeline = getattr(app.state, ais.STATE_KEY, None)
    if pipeline is None:  # until the composition root mounts the AIS pipeline itself
        pipeline = ais.AisPipeline.build(app.state.services)
        setattr(app.state, ais.STATE_KEY, pipeline)
        app.router.routes.extend([*ais.routes(pipeline), *ais.fallback_routes()])

    async def passthrough(request: Request) -> Response:
        answer = await forward(
            upstream=pipeline.upstream, bank=services_of(request).bank, public_base=settings.issuer,
            sub_path="/" + request.path_params["rest"], query=list(request.query_params.multi_items()),
            claims=claims, interaction_id=interaction_id(request),
        )
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    app.router.routes.insert(0, Route("/bench/passthrough/{rest:path}", passthrough, methods=["GET"]))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


# --------------------------------------------------------------------------- seeding


@dataclass(frozen=True, kw_only=True)
class Seed:
    access_token: str
    dpop_key: dict[str, Any]
    account_id: str
    claims: dict[str, Any]


async def _seed(settings: Settings) -> Seed:
    from consent import service
    from gateway.db import Database
    from gateway.migrate import upgrade_async
    from gateway.oauth.models import Client
    from gateway.oauth.models import Token
    from gateway.oauth.models import new_secret
    from gateway.oauth.models import secret_hash
    from gateway.oauth.models import utcnow
    from sandbox.customers import accounts_of
    from sandbox.customers import customer_id

    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    dpop_key = jose.generate_key(alg="ES256")
    signing_key = jose.generate_key(alg="ES256")
    psu = customer_id(username="alice")
    accounts = [a.account_id for a in accounts_of("alice")]
    permissions = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits",
                   "ReadTransactionsDebits"]
    now = utcnow()
    try:
        async with db.session() as session:
            session.add(Client(client_id=client_id, software_id=f"software-{client_id}", client_name="bench",
                               token_endpoint_auth_method="private_key_jwt", redirect_uris=["https://bench.invalid/cb"],
                               grant_types=["authorization_code"], scope="openid accounts",
                               software_roles=["AISP"], jwks=jose.public_jwks([signing_key])))
            await session.commit()
        async with db.session() as session:
            consent = await service.create_account_access_consent(
                session=session, client_id=client_id, data={"Permissions": permissions}, risk={}, now=now)
            consent_id = consent.consent_id
            await service.authorise(session=session, consent_id=consent_id, client_id=client_id, psu_id=psu,
                                    account_ids=accounts, available_account_ids=accounts, now=now)
        token = new_secret()
        async with db.session() as session:
            session.add(Token(token_hash=secret_hash(token), kind="access", grant_id=uuid.uuid4().hex,
                              grant_type="authorization_code", client_id=client_id, psu_id=psu,
                              consent_id=consent_id, scope="openid accounts",
                              jkt=jose.thumbprint(jose.public_jwk(dpop_key)), expires_at=now + timedelta(hours=1)))
            await session.commit()
    finally:
        await db.dispose()
    claims = {"purpose": "ais", "psu_id": psu, "consent_id": consent_id, "account_ids": accounts,
              "permissions": sorted(permissions)}
    return Seed(access_token=token, dpop_key=dpop_key, account_id=accounts[0], claims=claims)


# --------------------------------------------------------------------------- load


@dataclass(frozen=True, kw_only=True)
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _load(name: str, url: str, headers: list[dict[str, str]] | None, *, seconds: float,
                concurrency: int) -> Result:
    """``concurrency`` keep-alive workers call ``url`` until the time is up (or the pre-signed headers run out)."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    counter = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        # Warm the pool outside the timed window.
        async with http.get(url.replace("/open-banking/", "/healthz-warm/")) as r:
            await r.read()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                if headers is not None:
                    if counter >= len(headers):
                        return
                    sent = headers[counter]
                else:
                    sent = {}
                counter += 1
                started = time.perf_counter()
                async with http.get(url, headers=sent) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    if not latencies:
        return Result(name=name, requests=0, errors=errors, seconds=elapsed, p50_ms=0, p99_ms=0)
    return Result(name=name, requests=len(latencies), errors=errors, seconds=elapsed,
                  p50_ms=statistics.median(latencies) * 1000,
                  p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"obgw bench: a component exited early (code {process.returncode})")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"obgw bench: {url} did not become healthy")


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def _run(args: argparse.Namespace, *, work: Path) -> dict[str, Any]:
    from gateway.keys import KeyStore

    gw_port, bank_port = _free_port(), _free_port()
    var_dir = work / "var"
    policies = _relaxed_policies(Settings().policies_dir, work / "policies")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OBGW_")},
           "OBGW_VAR_DIR": str(var_dir), "OBGW_HOST": "127.0.0.1", "OBGW_PORT": str(gw_port),
           "OBGW_SANDBOX_HOST": "127.0.0.1", "OBGW_SANDBOX_PORT": str(bank_port), "OBGW_POLICIES_DIR": str(policies),
           "OBGW_LOG_LEVEL": "warning"}
    settings = Settings.from_env(env)
    keys = KeyStore.ensure(settings.keys_dir, sandbox=True)
    _say(f"seeding a consent and a token in {var_dir}")
    seed = await _seed(settings)
    claims_file = work / "claims.json"
    claims_file.write_text(json.dumps(seed.claims))

    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(subprocess.Popen(
            [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())",
             "serve", "--component", "sandbox"], env=env, stdout=subprocess.DEVNULL))
        _wait_healthy(settings.sandbox_url, processes[-1])
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "gateway.bench", "serve-gateway", str(claims_file)], env=env,
            stdout=subprocess.DEVNULL))
        _wait_healthy(settings.issuer, processes[-1])

        sub_path = f"/accounts/{seed.account_id}/balances"
        public_path = "/open-banking/v3.1/aisp" + sub_path
        present = {"x-fapi-customer-ip-address": PRESENT_IP}
        # Enough pre-signed requests for the timed window; a scenario that runs out ends early and its rate is
        # computed over the time it actually ran.
        budget = int(args.seconds * 2000)
        _say(f"signing {budget} bank context tokens for the direct scenario")

        from gateway.bank import BankClient

        signer = BankClient(base_url=settings.sandbox_url, issuer=settings.issuer, keys=keys)
        contexts = [{"x-obgw-context": signer.context_token(**seed.claims),
                     "x-obgw-public-base": settings.issuer} for _ in range(budget)]
        await signer.close()
        _say("(a) sandbox direct")
        direct = await _load("sandbox direct", settings.sandbox_url + "/bank/v1/aisp" + sub_path, contexts,
                             seconds=args.seconds, concurrency=args.concurrency)
        _say("(b) gateway pass-through")
        bare = await _load("gateway pass-through", settings.issuer + "/bench/passthrough" + sub_path, None,
                           seconds=args.seconds, concurrency=args.concurrency)
        htu = settings.issuer + public_path
        ath = jose.sha256_b64url(seed.access_token)
        jwk = jose.public_jwk(seed.dpop_key)
        key = {k: v for k, v in seed.dpop_key.items() if k != "kid"}
        count = min(budget, int(bare.rps * args.seconds * 1.2) + 1000)
        _say(f"signing {count} DPoP proofs")
        signed = []
        for _ in range(count):
            proof = jose.sign({"jti": str(uuid.uuid4()), "htm": "GET", "htu": htu, "iat": int(time.time()),
                               "ath": ath}, key=key, headers={"typ": "dpop+jwt", "jwk": jwk})
            signed.append({"authorization": f"DPoP {seed.access_token}", "dpop": proof, **present})
        _say("(c) gateway with every check")
        full = await _load("gateway full checks", htu, signed, seconds=args.seconds, concurrency=args.concurrency)
    finally:
        _stop(processes)
    results = [direct, bare, full]
    return {
        "endpoint": "GET " + public_path,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "results": [{"name": r.name, "requests": r.requests, "errors": r.errors, "rps": round(r.rps, 1),
                     "p50_ms": round(r.p50_ms, 2), "p99_ms": round(r.p99_ms, 2)} for r in results],
        "full_vs_passthrough": round(full.rps / bare.rps, 3) if bare.rps else 0.0,
    }


def _terminate(signum: int, frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop every process this command started.
    raise SystemExit(128 + signum)


def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="obgw-bench-"))
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = asyncio.run(_run(args, work=work))
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(work, ignore_errors=True)
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['endpoint']}  ({report['seconds']} s per scenario, {report['concurrency']} connections)")
        print(f"{'scenario':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
        for r in report["results"]:
            print(f"{r['name']:<24}{r['rps']:>10.1f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['errors']:>8}")
        print(f"full checks / pass-through: {report['full_vs_passthrough']:.0%} (target 60%)")
    failed = any(r["errors"] for r in report["results"])
    return 1 if failed else 0


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "serve-gateway":
    serve_gateway(claims_file=Path(sys.argv[2]))
