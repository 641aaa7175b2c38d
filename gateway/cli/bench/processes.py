"""The processes a benchmark run starts: each pinned to one CPU (``taskset -c``), on 127.0.0.1, stopped by pid.

docs/performance.md, "How a run is set up": the server side of every scenario runs on CPU 0 and wrk on CPU 1,
so the load generator never competes with what it measures. ``Processes`` remembers every child it started
and stops them all, in reverse order, on the way out (normal end, error, Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

SERVER_CPU = 0
LOAD_CPU = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, command: Sequence[str]) -> list[str]:
    """``command`` run on one CPU only."""
    return ["taskset", "-c", str(cpu), *command]


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its children (nginx: master and worker), from /proc/<pid>/status VmRSS."""
    total = 0
    for each in (pid, *_children(pid)):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


@dataclass(kw_only=True)
class Processes:
    """Every child process of one benchmark run."""

    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, command: Sequence[str], *, env: Mapping[str, str], log: Path,
              cpu: int = SERVER_CPU) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(pinned(cpu, command), env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        self.started.append((name, process))
        return process

    def wait_http(self, name: str, process: subprocess.Popen[bytes], url: str, *, timeout: float = 60.0,
                  log: Path | None = None) -> None:
        """Wait until ``url`` answers (any HTTP status), or fail if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
                raise RuntimeError(f"{name} exited early (code {process.returncode})\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")

    def stop_all(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.started):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.started.clear()
