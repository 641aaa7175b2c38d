"""Real processes for tests that need them: ``obgw up`` (gateway + sandbox) on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def start_obgw(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``obgw ARGV`` as a child process, its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "gateway.cli.main", *argv], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, *, timeout: float = 60.0) -> None:
    """Until ``url`` answers 200; fails with the process's output if it exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready in {timeout} s:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C (graceful shutdown), then kill after 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LiveStack:
    gateway_url: str
    sandbox_url: str
    var_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_stack(var_dir: Path, *, extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[LiveStack]:
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_") or k.startswith("OBGW_TEST_")}
    env.update(
        OBGW_PORT=str(port),
        OBGW_SANDBOX_PORT=str(sandbox_port),
        OBGW_VAR_DIR=str(var_dir),
        OBGW_LOG_LEVEL="warning",
        **(extra_env or {}),
    )
    log = var_dir / "obgw-up.log"
    var_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    stack = LiveStack(
        gateway_url=f"http://127.0.0.1:{port}",
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        var_dir=var_dir,
        process=process,
        log=log,
        env=env,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"obgw up exited with {process.returncode}:\n{stack.output()}")
            try:
                if (
                    httpx.get(f"{stack.gateway_url}/healthz", timeout=1).status_code == 200
                    and httpx.get(f"{stack.sandbox_url}/portal/api/psus", timeout=1).status_code == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"obgw up did not start in {timeout} s:\n{stack.output()}")
            time.sleep(0.2)
        yield stack
    finally:
        stop(process)
