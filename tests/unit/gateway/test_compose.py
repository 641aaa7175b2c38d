"""compose.yaml describes the scale-out topology: it parses, every obgw command it runs is one the CLI
accepts, and every setting it passes is one obgw reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from gateway.cli.main import build_parser
from gateway.settings import REPO_ROOT
from gateway.settings import Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def test_topology_has_tls_terminator_two_replicas_sandbox_postgres_and_redis() -> None:
    assert set(COMPOSE["services"]) == {"nginx", "gateway-a", "gateway-b", "sandbox", "postgres", "redis"}
    for service in COMPOSE["services"].values():
        assert "healthcheck" in service


def test_every_obgw_command_parses() -> None:
    parser = build_parser()
    for service in COMPOSE["services"].values():
        command = service.get("command")
        if command and command[0] == "obgw":
            parser.parse_args(command[1:])  # exits non-zero on an unknown command or flag


def test_every_setting_passed_is_read_by_obgw() -> None:
    known = {f"OBGW_{f.name.upper()}" for f in dataclasses.fields(Settings)} | {"OBGW_SANDBOX_HOST"}
    for service in COMPOSE["services"].values():
        for key in service.get("environment", {}):
            if key.startswith("OBGW_"):
                assert key in known, key
    Settings.from_env({k: str(v) for k, v in COMPOSE["x-gateway"]["environment"].items()})


def test_the_image_builds_from_files_that_exist() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (Path(REPO_ROOT) / source).exists(), source
