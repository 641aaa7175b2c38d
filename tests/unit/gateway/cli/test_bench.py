"""The pure parts of the benchmark (docs/performance.md): reading wrk's Lua result line, the rulebook copy that
raises only the tier budgets, sizing the consents against the shipped per-consent budget, and the ratios."""

from __future__ import annotations

import filecmp
from pathlib import Path

import limits
import pytest
import yaml

from gateway.cli.bench import load
from gateway.cli.bench import report
from gateway.cli.bench import seed
from gateway.contract.policies.loader import load_policies
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import load_specs
from gateway.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "policies"

WRK_STDOUT = """Running 10s test @ http://127.0.0.1:8000/open-banking/v3.1/aisp/accounts/a/balances
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.10ms    3.20ms  80.00ms   90.00%
  4000 requests in 10.00s, 9.00MB read
OBGW_BENCH_JSON {"requests":4000,"duration_us":10000000,"p50_us":11500,"p90_us":15000,"p99_us":24750,\
"max_us":80000,"non2xx":3,"socket_errors":1,"timeouts":0,"exhausted_threads":0}
Requests/sec:    400.00
"""


def test_the_lua_result_line_is_read_in_milliseconds() -> None:
    result = load.parse_report(WRK_STDOUT)
    assert result.requests == 4000
    assert result.rps == pytest.approx(400.0)
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms) == (11.5, 15.0, 24.75, 80.0)
    assert (result.non2xx, result.socket_errors, result.timeouts, result.exhausted_threads) == (3, 1, 0, 0)


def test_wrk_output_without_the_result_line_is_refused() -> None:
    with pytest.raises(ValueError, match="no result line"):
        load.parse_report(WRK_STDOUT.replace(load.MARKER, "something else "))


def test_both_scripts_print_the_line_the_parser_reads() -> None:
    for script in (load.FIXED, load.LINES):
        assert f'"{load.MARKER}"' in script
        assert "latency:percentile(99)" in script


def test_raising_a_limit_keeps_its_windows() -> None:
    assert seed.raise_limit("20/second;600/minute", factor=10) == "200/second;6000/minute"
    assert seed.raise_limit("5/15 minutes", factor=2) == "10/15 minute"
    raised = limits.parse_many(seed.raise_limit("5/15 minutes", factor=2))
    assert [(item.amount, item.get_expiry()) for item in raised] == [(10, 900)]


def test_the_bench_rulebook_changes_only_the_tier_budgets(tmp_path: Path) -> None:
    copy = seed.bench_rulebook(source=SHIPPED, target=tmp_path / "policies", factor=1000)
    same = filecmp.dircmp(SHIPPED, copy)
    assert same.left_only == [] and same.right_only == []
    assert same.diff_files == [seed.RATE_LIMITS_FILE]
    shipped = yaml.safe_load((SHIPPED / seed.RATE_LIMITS_FILE).read_text())
    bench = yaml.safe_load((copy / seed.RATE_LIMITS_FILE).read_text())
    assert {k: v for k, v in bench.items() if k != "tiers"} == {k: v for k, v in shipped.items() if k != "tiers"}
    assert bench["per_consent"] == shipped["per_consent"] and bench["unattended"] == shipped["unattended"]
    assert bench["tiers"].keys() == shipped["tiers"].keys()
    for tier, classes in shipped["tiers"].items():
        assert bench["tiers"][tier].keys() == classes.keys()
        for rate_class, text in classes.items():
            before = [(i.amount, i.get_expiry()) for i in limits.parse_many(text)]
            after = [(i.amount, i.get_expiry()) for i in limits.parse_many(bench["tiers"][tier][rate_class])]
            assert after == [(amount * 1000, window) for amount, window in before]
    # The copy is a rulebook the gateway accepts.
    load_policies(copy, specs=load_specs(REPO_ROOT / "openapi", declared=declared_operations(copy)))


def test_consents_are_sized_from_the_tightest_per_consent_window() -> None:
    # 1,500 req/s for 36 s in all: the minute window sees 54,000 requests, half of 300 each -> 360 consents;
    # the second window needs only 1,500 / 15 = 100.
    assert seed.consents_needed(per_consent="30/second;300/minute", expected_rps=1500, run_seconds=36) == 360
    # Past a minute, the minute window caps what one consent sees.
    assert seed.consents_needed(per_consent="30/second;300/minute", expected_rps=1500, run_seconds=600) == 600
    # A second-only budget: the per-second share decides.
    assert seed.consents_needed(per_consent="30/second", expected_rps=1500, run_seconds=36) == 100
    assert seed.consents_needed(per_consent="30/second;300/minute", expected_rps=1, run_seconds=1) == 1


def test_the_shipped_budget_holds_for_the_sized_consents() -> None:
    per_consent = seed.per_consent_limits(SHIPPED)
    consents = seed.consents_needed(per_consent=per_consent, expected_rps=2000, run_seconds=36)
    most = seed.uses_per_consent(requests=[2000 * 12] * 3, consents=consents)
    assert all(most <= item.amount for item in limits.parse_many(per_consent) if item.get_expiry() >= 36)


def _line(key: str, *, rps: float, p50: float = 1.0, p99: float = 2.0) -> report.Line:
    sample = load.WrkResult(requests=int(rps * 10), seconds=10.0, p50_ms=p50, p90_ms=p50, p99_ms=p99, max_ms=p99,
                            non2xx=0, socket_errors=0, timeouts=0, exhausted_threads=0)
    return report.Line(key=key, name=key, samples=(sample,), rss_kib=(1024,))


def test_ratios_compare_lines_of_the_same_run() -> None:
    lines = {line.key: line for line in (_line("nginx", rps=20000), _line("floor", rps=1500),
                                         _line("passthrough", rps=1200), _line("full", rps=800, p50=10, p99=30))}
    found = {r.name: r for r in report.ratios(lines)}
    assert found["full / nginx"].value == pytest.approx(0.04) and found["full / nginx"].met is False
    assert found["full / pass-through"].value == pytest.approx(2 / 3) and found["full / pass-through"].met
    assert found["pass-through / floor"].value == pytest.approx(0.8) and found["pass-through / floor"].met is False
    assert found["full p99 / p50"].value == pytest.approx(3.0) and found["full p99 / p50"].met is False
    assert "token / node-oidc-provider" not in found


def test_medians_over_repetitions() -> None:
    samples = tuple(load.WrkResult(requests=r * 10, seconds=10.0, p50_ms=p, p90_ms=p, p99_ms=p * 2, max_ms=p * 3,
                                   non2xx=1, socket_errors=0, timeouts=0, exhausted_threads=0)
                    for r, p in ((100, 5.0), (300, 1.0), (200, 3.0)))
    line = report.Line(key="x", name="x", samples=samples, rss_kib=(1024, 3072, 2048))
    assert (line.rps, line.p50_ms, line.p99_ms, line.non2xx, line.rss_mib) == (200.0, 3.0, 6.0, 3, 2.0)


def test_token_requests_carry_a_fresh_assertion_and_proof_each() -> None:
    from urllib.parse import parse_qs

    from gateway.cli.bench import token
    from gateway.security import jose

    client = token.new_client()
    signed = token.token_requests(client=client, issuer="http://127.0.0.1:1", token_url="http://127.0.0.1:1/token",
                                  count=3)
    assertions, proofs = set(), set()
    for fields in signed:
        assert fields[":method"] == "POST" and fields["content-type"] == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(fields[":body"]).items()}
        assert form["grant_type"] == "client_credentials" and form["client_assertion_type"] == token.ASSERTION_TYPE
        claims = jose.verify(form["client_assertion"], key=jose.public_jwk(client.signing_key), algorithms=["ES256"],
                             audience="http://127.0.0.1:1")
        assert claims["iss"] == claims["sub"] == client.client_id
        proof = jose.verify(fields["dpop"], key=jose.public_jwk(client.dpop_key), algorithms=["ES256"],
                            verify_exp=False)
        assert (proof["htm"], proof["htu"]) == ("POST", "http://127.0.0.1:1/token")
        assertions.add(claims["jti"])
        proofs.add(proof["jti"])
        assert "\t" not in "".join(fields.values())  # one request per line, fields split on tabs
    assert len(assertions) == len(proofs) == 3


def test_each_wrk_thread_cycles_through_every_consent() -> None:
    assert seed.coprime_with(720, threads=2) == 721
    assert seed.coprime_with(721, threads=2) == 721
    assert seed.coprime_with(9, threads=3) == 10
    consents = seed.coprime_with(720, threads=2)
    thread_zero = {line % consents for line in range(0, 4 * consents, 2)}
    assert len(thread_zero) == consents


def test_a_window_is_signed_for_more_than_the_rate_seen_so_far() -> None:
    # First window: only the warm-up is known, and it counts double (no steady state yet).
    assert seed.requests_to_sign(seen=[], warmup_rps=400, warmup_ran_out=False, seconds=10, margin=1.5) == 12200
    # Later windows: the best rate of earlier windows, unless the warm-up now beats it.
    assert seed.requests_to_sign(seen=[700, 600], warmup_rps=400, warmup_ran_out=False, seconds=10,
                                 margin=1.5) == 10700
    assert seed.requests_to_sign(seen=[700], warmup_rps=500, warmup_ran_out=True, seconds=10, margin=1.5) == 15200
