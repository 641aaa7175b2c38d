"""``obgw bench``: one run that measures, side by side, the hot path of the gateway against nginx, a minimal
Python proxy and the sandbox bank (docs/performance.md).

Every scenario runs its server side on CPU 0 and wrk on CPU 1; the scenarios are interleaved (1,2,3,4,5,1,2,...)
for ``--repetitions`` rounds, each a warm-up then a timed window; the report gives medians. Everything listens on
127.0.0.1, every process started is stopped by pid (also on Ctrl-C and SIGTERM), and the temporary directory
is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from gateway.cli.bench import load
from gateway.cli.bench import report
from gateway.cli.bench import seed
from gateway.cli.bench import stub
from gateway.cli.bench import token
from gateway.cli.bench.processes import LOAD_CPU
from gateway.cli.bench.processes import SERVER_CPU
from gateway.cli.bench.processes import Processes
from gateway.cli.bench.processes import free_port
from gateway.cli.bench.processes import rss_kib
from gateway.settings import Settings

BALANCES = "/accounts/{account_id}/balances"
PUBLIC_AIS = "/open-banking/v3.1/aisp"
BANK_AIS = "/bank/v1/aisp"
NAMES = {
    "nginx": "nginx reverse proxy -> stub",
    "floor": "starlette + aiohttp proxy -> stub",
    "passthrough": "obgw pass-through -> stub",
    "full": "obgw every check -> stub",
    "direct": "sandbox bank direct (reference)",
    "token": "obgw token endpoint",
    "token_reference": "node-oidc-provider token endpoint",
}
PRE_SIGNED = ("full", "direct", "token", "token_reference")
# Pre-signed requests for a token warm-up before any rate of that line is known.
TOKEN_WARMUP_RPS = 2000.0


def _say(message: str) -> None:
    print(f"obgw bench: {message}", file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per scenario and repetition")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before each timed window")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--expected-rps", type=float, default=3000.0,
                        help="upper bound of the full-check rate, to size the consents")
    parser.add_argument("--json", action="store_true")


@dataclass(kw_only=True)
class Stack:
    work: Path
    processes: Processes
    settings: Settings
    seeded: seed.Seeded
    urls: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    sign_context: Callable[..., str] | None = None
    token_client: token.TokenClient | None = None
    issuers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _env(*, work: Path, gw_port: int, bank_port: int, policies: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    return {**base, "OBGW_VAR_DIR": str(work / "var"), "OBGW_HOST": "127.0.0.1", "OBGW_PORT": str(gw_port),
            "OBGW_SANDBOX_HOST": "127.0.0.1", "OBGW_SANDBOX_PORT": str(bank_port),
            "OBGW_POLICIES_DIR": str(policies), "OBGW_LOG_LEVEL": "warning"}


def _capture(url: str, headers: dict[str, str]) -> stub.Recorded:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
        if answer.status != 200:
            raise RuntimeError(f"the sandbox bank answered {answer.status} to {url}")
        return stub.Recorded(path=urllib.request.urlparse(url).path, body=answer.read(),
                             content_type=answer.headers.get("content-type", "application/json"))


def _start(*, work: Path, processes: Processes, consents: int) -> Stack:
    from gateway.backend.bank import Bank
    from gateway.backend.upstream import Upstream
    from gateway.security.keys import KeyStore

    gw_port, bank_port, stub_port, proxy_port, floor_port, node_port = (free_port() for _ in range(6))
    shipped = Settings().policies_dir
    policies = seed.bench_rulebook(source=shipped, target=work / "policies")
    env = _env(work=work, gw_port=gw_port, bank_port=bank_port, policies=policies)
    settings = Settings.from_env(env)
    keys = KeyStore.ensure(settings.keys_dir, sandbox=True)
    _say(f"seeding {consents} authorised consents, one DPoP-bound token each")
    seeded = asyncio.run(seed.seed(settings=settings, consents=consents))
    stack = Stack(work=work, processes=processes, settings=settings, seeded=seeded, token_client=token.new_client())
    assert stack.token_client is not None
    asyncio.run(token.seed_client(settings=settings, client=stack.token_client))
    logs = work / "logs"
    logs.mkdir()
    python = [sys.executable, "-m", "gateway.cli.bench"]

    def up(name: str, command: list[str], url: str, *, environ: dict[str, str] = env) -> None:
        log = logs / f"{name}.log"
        process = processes.start(name, command, env=environ, log=log, cpu=SERVER_CPU)
        processes.wait_http(name, process, url, log=log)
        stack.pids[name] = process.pid

    up("sandbox", [sys.executable, "-c", "import sys; from gateway.cli.main import main; sys.exit(main())", "serve",
                   "--component", "sandbox"], settings.sandbox_url + "/healthz")
    sub_path = BALANCES.format(account_id=seeded.account_id)
    signer = Bank(transport=Upstream(base_url=settings.sandbox_url), issuer=settings.issuer, keys=keys)
    stack.sign_context = signer.context_token
    _say("recording the sandbox bank's answer to the balances call for the stub")
    answer = _capture(settings.sandbox_url + BANK_AIS + sub_path,
                      {"x-obgw-context": signer.context_token(**seeded.claims),
                       "x-obgw-public-base": settings.issuer, "accept": "application/json"})
    stub_url = f"http://127.0.0.1:{stub_port}"
    up("stub", stub.command(stub.stub_config(prefix=work / "stub", port=stub_port, answer=answer)),
       stub_url + "/healthz")
    up("nginx", stub.command(stub.proxy_config(prefix=work / "proxy", port=proxy_port, upstream_port=stub_port)),
       f"http://127.0.0.1:{proxy_port}/healthz")
    up("floor", [*python, "serve-floor", stub_url, str(floor_port)], f"http://127.0.0.1:{floor_port}/healthz")
    claims_file = work / "claims.json"
    claims_file.write_text(json.dumps(seeded.claims))
    # The gateway's bank base URL (the AIS pipeline's upstream) is the stub.
    up("gateway", [*python, "serve-gateway", str(claims_file)], settings.issuer + "/healthz",
       environ={**env, "OBGW_SANDBOX_URL": stub_url})
    stack.urls = {
        "nginx": f"http://127.0.0.1:{proxy_port}{BANK_AIS}{sub_path}",
        "floor": f"http://127.0.0.1:{floor_port}{BANK_AIS}{sub_path}",
        "passthrough": f"{settings.issuer}/bench/passthrough{sub_path}",
        "full": f"{settings.issuer}{PUBLIC_AIS}{sub_path}",
        "direct": f"{settings.sandbox_url}{BANK_AIS}{sub_path}",
        "token": f"{settings.issuer}/token",
    }
    stack.issuers = {"token": settings.issuer}
    _say("installing node-oidc-provider (cached) for the token endpoint reference")
    reference = token.install_reference()
    if isinstance(reference, str):
        stack.notes.append(f"token endpoint reference skipped: {reference}.")
        return stack
    node_issuer = f"http://127.0.0.1:{node_port}"
    up("node", token.reference_command(directory=reference, port=node_port,
                                       client_file=token.client_file(client=stack.token_client,
                                                                     path=work / "token-client.json")),
       node_issuer + "/.well-known/openid-configuration")
    stack.urls["token_reference"] = node_issuer + "/token"
    stack.issuers["token_reference"] = node_issuer
    return stack


@dataclass(kw_only=True)
class Runner:
    stack: Stack
    args: argparse.Namespace
    fixed: Path
    lines: Path
    samples: dict[str, list[load.WrkResult]] = field(default_factory=dict)
    rss: dict[str, list[int]] = field(default_factory=dict)
    next_token: int = 0
    full_requests: list[int] = field(default_factory=list)

    def _wrk(self, key: str, seconds: float, signed: list[dict[str, str]] | None) -> load.WrkResult:
        args = self.args
        path = None
        if signed is not None:
            path = load.write_lines(self.stack.work / f"{key}.lines", signed)
        try:
            return load.run_wrk(url=self.stack.urls[key], script=self.fixed if path is None else self.lines,
                                seconds=seconds, connections=args.connections, threads=args.threads, lines=path)
        finally:
            if path is not None:
                path.unlink()

    def _expected(self, key: str) -> float:
        """The rate to sign for: this line's best so far, else the pass-through's (the gateway's upper bound)."""
        if key in ("token", "token_reference") and not self.samples.get(key):
            return TOKEN_WARMUP_RPS
        seen = self.samples.get(key) or self.samples.get("passthrough") or []
        return max((s.rps for s in seen), default=self.args.expected_rps)

    def _signed(self, key: str, seconds: float, *, count: int | None = None) -> list[dict[str, str]]:
        if count is None:
            count = int(self._expected(key) * seconds * seed.SIGNING_MARGIN) + 200
        stack = self.stack
        if key in ("token", "token_reference"):
            assert stack.token_client is not None
            return token.token_requests(client=stack.token_client, issuer=stack.issuers[key],
                                        token_url=stack.urls[key], count=count)
        if key == "full":
            signed = seed.dpop_requests(seeded=stack.seeded, htu=stack.urls["full"], count=count,
                                        start=self.next_token)
            self.next_token += count
            return signed
        assert stack.sign_context is not None
        return seed.context_requests(sign=stack.sign_context, claims=stack.seeded.claims,
                                     public_base=stack.settings.issuer, count=count)

    def scenario(self, key: str) -> None:
        args = self.args
        pre_signed = key in PRE_SIGNED
        warm = self._wrk(key, args.warmup, self._signed(key, args.warmup) if pre_signed else None)
        if key == "full":
            self.full_requests.append(warm.requests)
        started = time.monotonic()
        count = seed.requests_to_sign(seen=[sample.rps for sample in self.samples.get(key, [])],
                                      warmup_rps=warm.rps, warmup_ran_out=bool(warm.exhausted_threads),
                                      seconds=args.seconds)
        signed = self._signed(key, args.seconds, count=count) if pre_signed else None
        if signed is not None:
            _say(f"  signed {len(signed)} requests in {time.monotonic() - started:.1f} s (outside the window)")
        result = self._wrk(key, args.seconds, signed)
        if key == "full":
            self.full_requests.append(result.requests)
        server = {"passthrough": "gateway", "full": "gateway", "token": "gateway", "direct": "sandbox",
                  "token_reference": "node"}.get(key, key)
        self.samples.setdefault(key, []).append(result)
        self.rss.setdefault(key, []).append(rss_kib(self.stack.pids[server]))
        _say(f"  {NAMES[key]}: {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
             f"non-2xx {result.non2xx}")


def _run(args: argparse.Namespace, *, work: Path, processes: Processes) -> tuple[dict[str, Any], list[report.Line]]:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"obgw bench: {tool} is not installed (Debian: apt-get install wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("obgw bench: needs two CPUs (the server on CPU 0, wrk on CPU 1)")
    shipped = Settings().policies_dir
    per_consent = seed.per_consent_limits(shipped)
    run_seconds = args.repetitions * (args.warmup + args.seconds)
    consents = seed.coprime_with(seed.consents_needed(per_consent=per_consent, expected_rps=args.expected_rps,
                                                      run_seconds=run_seconds), threads=args.threads)
    stack = _start(work=work, processes=processes, consents=consents)
    fixed, lines = load.write_scripts(work)
    runner = Runner(stack=stack, args=args, fixed=fixed, lines=lines)
    for repetition in range(1, args.repetitions + 1):
        _say(f"repetition {repetition} of {args.repetitions}")
        for key in NAMES:
            if key in stack.urls:
                runner.scenario(key)
    result_lines = [report.Line(key=key, name=name, samples=tuple(runner.samples[key]),
                                rss_kib=tuple(runner.rss[key])) for key, name in NAMES.items() if key in stack.urls]
    most = seed.uses_per_consent(requests=runner.full_requests, consents=consents)
    meta = {
        "endpoint": "GET " + PUBLIC_AIS + BALANCES.replace("{account_id}", "{AccountId}"),
        "seconds": args.seconds, "warmup": args.warmup, "repetitions": args.repetitions,
        "connections": args.connections, "threads": args.threads, "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU,
        "consents": consents, "most_requests_per_consent": most, "per_consent_budget": per_consent,
        "notes": [
            f"rulebook: the shipped policies/ with ONLY the tier budgets raised x{seed.TIER_FACTOR}; per-consent "
            f"({per_consent}) and unattended budgets as shipped.",
            f"{consents} consents, round robin: at most {most} requests per consent over the whole run "
            f"(sized for up to {args.expected_rps:g} req/s); customer present (x-fapi-customer-ip-address).",
            "stub upstream: nginx serving the sandbox bank's recorded answer to the same balances call.",
            "token lines: client_credentials, private_key_jwt (ES256) and DPoP, a fresh assertion and proof per "
            "request.",
            *stack.notes,
        ],
    }
    return meta, result_lines


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM becomes SystemExit so the finally blocks stop every process this run started.
    raise SystemExit(128 + signum)


def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="obgw-bench-"))
    work.chmod(0o711)  # the stub's nginx worker may run as an unprivileged user: it must reach work/stub
    processes = Processes()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        meta, lines = _run(args, work=work, processes=processes)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"obgw bench: {exc}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report.as_json(meta=meta, lines=lines), indent=2))
    else:
        print(report.as_text(meta=meta, lines=lines))
    return 1 if any(line.non2xx or line.exhausted for line in lines) else 0
