"""The benchmark report: medians over the repetitions, the ratios the targets are stated in, a text table and
the JSON form (docs/performance.md, "Reading the ratios")."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.cli.bench.load import WrkResult


@dataclass(frozen=True, kw_only=True)
class Line:
    """One scenario over all its repetitions."""

    key: str
    name: str
    samples: tuple[WrkResult, ...]
    rss_kib: tuple[int, ...]

    @property
    def rps(self) -> float:
        return statistics.median(s.rps for s in self.samples) if self.samples else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(s.p50_ms for s in self.samples) if self.samples else 0.0

    @property
    def p99_ms(self) -> float:
        return statistics.median(s.p99_ms for s in self.samples) if self.samples else 0.0

    @property
    def non2xx(self) -> int:
        return sum(s.non2xx + s.socket_errors + s.timeouts for s in self.samples)

    @property
    def exhausted(self) -> bool:
        return any(s.exhausted_threads for s in self.samples)

    @property
    def rss_mib(self) -> float:
        return statistics.median(self.rss_kib) / 1024 if self.rss_kib else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 2),
                "p99_ms": round(self.p99_ms, 2), "non2xx": self.non2xx, "rss_mib": round(self.rss_mib, 1),
                "ran_out_of_signed_requests": self.exhausted,
                "repetitions": [{"rps": round(s.rps, 1), "p50_ms": s.p50_ms, "p99_ms": s.p99_ms,
                                 "non2xx": s.non2xx, "requests": s.requests} for s in self.samples]}


@dataclass(frozen=True, kw_only=True)
class Ratio:
    name: str
    value: float | None
    target: str
    met: bool | None


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def ratios(lines: Mapping[str, Line]) -> list[Ratio]:
    """The issue's targets, each a ratio of two lines of the same run (None when a line is missing)."""
    def rps(key: str) -> float:
        return lines[key].rps if key in lines else 0.0

    found: list[Ratio] = []

    def at_least(name: str, value: float | None, bound: float) -> None:
        found.append(Ratio(name=name, value=value, target=f">= {bound:g}x", met=None if value is None else value >= bound))

    at_least("full / nginx", _ratio(rps("full"), rps("nginx")), 0.06)
    at_least("full / pass-through", _ratio(rps("full"), rps("passthrough")), 0.5)
    at_least("pass-through / floor", _ratio(rps("passthrough"), rps("floor")), 1.0)
    full = lines.get("full")
    tail = _ratio(full.p99_ms, full.p50_ms) if full is not None else None
    found.append(Ratio(name="full p99 / p50", value=tail, target="<= 2.5x", met=None if tail is None else tail <= 2.5))
    if "token" in lines and "token_reference" in lines:
        at_least("token / node-oidc-provider", _ratio(rps("token"), rps("token_reference")), 2.0)
    return found


def as_json(*, meta: Mapping[str, Any], lines: Sequence[Line]) -> dict[str, Any]:
    by_key = {line.key: line for line in lines}
    return {**meta, "lines": [line.as_json() for line in lines],
            "ratios": [{"name": r.name, "value": None if r.value is None else round(r.value, 3), "target": r.target,
                        "met": r.met} for r in ratios(by_key)]}


def as_text(*, meta: Mapping[str, Any], lines: Sequence[Line]) -> str:
    by_key = {line.key: line for line in lines}
    out = [f"{meta['endpoint']}: {meta['repetitions']} interleaved repetitions of {meta['seconds']:g} s "
           f"(after {meta['warmup']:g} s warm-up), wrk {meta['threads']} threads x {meta['connections']} connections "
           f"on CPU {meta['load_cpu']}, server on CPU {meta['server_cpu']}; medians",
           f"{'#':<3}{'scenario':<40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99/p50':>9}{'non-2xx':>9}{'RSS MiB':>9}"]
    for number, line in enumerate(lines, start=1):
        tail = _ratio(line.p99_ms, line.p50_ms)
        note = "  (ran out of pre-signed requests)" if line.exhausted else ""
        out.append(f"{number:<3}{line.name:<40}{line.rps:>9.0f}{line.p50_ms:>9.2f}{line.p99_ms:>9.2f}"
                   f"{(tail or 0):>8.2f}x{line.non2xx:>9}{line.rss_mib:>9.1f}{note}")
    out.append("")
    for r in ratios(by_key):
        value = "n/a" if r.value is None else f"{r.value:.3f}x"
        verdict = "n/a" if r.met is None else ("met" if r.met else "NOT met")
        out.append(f"{r.name:<30}{value:>10}   target {r.target:<9} {verdict}")
    out.extend(["", *meta.get("notes", [])])
    return "\n".join(out)
