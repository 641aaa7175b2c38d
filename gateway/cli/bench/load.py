"""The load side of the benchmark: wrk, pinned to its own CPU, with a Lua script whose ``done()`` prints the
result as one JSON line (docs/performance.md, "How a run is set up").

Two scripts: ``FIXED`` sends the same request every time; ``LINES`` sends one pre-signed request per line of a
file (tab-separated ``name: value`` header fields; the pseudo-fields ``:method`` and ``:body`` set the method,
default GET, and the body), each wrk thread taking its own slice (line i goes to thread
i mod threads), so no line - no DPoP proof, no context token - is sent twice. A thread that runs out of lines
stops and the result says so. Both count non-2xx answers in ``response()``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.cli.bench.processes import LOAD_CPU
from gateway.cli.bench.processes import pinned

MARKER = "OBGW_BENCH_JSON "

_COMMON = r"""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

non2xx = 0
exhausted = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total, exhausted_total = 0, 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    exhausted_total = exhausted_total + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"socket_errors":%d,"timeouts":%d,"exhausted_threads":%d}\n',
    "OBGW_BENCH_JSON ", summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, non2xx_total, e.connect + e.read + e.write, e.timeout,
    exhausted_total))
end
"""

FIXED = _COMMON

LINES = _COMMON + r"""
local requests = {}
local position = 0

function init(args)
  local threads_total = tonumber(args[2])
  local index = 0
  local path = wrk.path
  for line in io.lines(args[1]) do
    if index % threads_total == id then
      local headers, method, body = {}, "GET", nil
      for field in string.gmatch(line, "[^\t]+") do
        local name, value = string.match(field, "^(:?[^:]+): (.*)$")
        if name == ":method" then
          method = value
        elseif name == ":body" then
          body = value
        else
          headers[name] = value
        end
      end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    index = index + 1
  end
end

function request()
  position = position + 1
  if position > #requests then
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    return requests[#requests]
  end
  return requests[position]
end
"""


@dataclass(frozen=True, kw_only=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    timeouts: int
    exhausted_threads: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_report(stdout: str) -> WrkResult:
    """The JSON line ``done()`` printed (latencies in microseconds), as milliseconds; ValueError if absent."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            break
    else:
        raise ValueError("wrk printed no result line (did the Lua script load?)")
    return WrkResult(
        requests=int(data["requests"]), seconds=int(data["duration_us"]) / 1e6,
        p50_ms=int(data["p50_us"]) / 1000, p90_ms=int(data["p90_us"]) / 1000, p99_ms=int(data["p99_us"]) / 1000,
        max_ms=int(data["max_us"]) / 1000, non2xx=int(data["non2xx"]), socket_errors=int(data["socket_errors"]),
        timeouts=int(data["timeouts"]), exhausted_threads=int(data["exhausted_threads"]),
    )


def write_scripts(directory: Path) -> tuple[Path, Path]:
    fixed, lines = directory / "fixed.lua", directory / "lines.lua"
    fixed.write_text(FIXED)
    lines.write_text(LINES)
    return fixed, lines


def write_lines(path: Path, requests: Sequence[dict[str, str]]) -> Path:
    """One request's header fields per line, tab-separated ``name: value`` (values never hold a tab)."""
    with path.open("w") as out:
        for headers in requests:
            out.write("\t".join(f"{name}: {value}" for name, value in headers.items()) + "\n")
    return path


def run_wrk(*, url: str, script: Path, seconds: float, connections: int, threads: int,
            headers: dict[str, str] | None = None, lines: Path | None = None) -> WrkResult:
    """One wrk run on the load CPU."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if lines is not None:
        command += ["--", str(lines), str(threads)]
    done = subprocess.run(pinned(LOAD_CPU, command), capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_report(done.stdout)
