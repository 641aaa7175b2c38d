"""compose.yaml describes the scale-out topology (docs/production.md section 7): it is a valid Compose file by the
official Compose Specification schema (vendored unmodified in ``deploy/compose-spec/``), every obgw command it runs
is one the CLI accepts, and every setting it passes is one obgw reads. The Dockerfile builds in two stages and runs
as a non-root user; the build context leaves out environments, state and history."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import jsonschema
import yaml

from gateway.cli.main import build_parser
from gateway.settings import REPO_ROOT
from gateway.settings import Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
VENDORED = REPO_ROOT / "deploy" / "compose-spec"
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((VENDORED / "compose-spec.json").read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("https://json-schema.org/draft-07/")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_yaml_is_valid_by_the_compose_specification_schema() -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(COMPOSE)]
    assert errors == []


def test_the_schema_check_refuses_a_broken_compose_file() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["redis"]["healthcheck"]["interval"] = 5  # a duration is a string
    broken["services"]["gateway-a"]["restart_policy"] = "always"  # no such service key
    assert len(list(_validator().iter_errors(broken))) == 2


def test_the_vendored_schema_is_the_published_file_with_its_licence() -> None:
    readme = (VENDORED / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"\| sha256 \| `([0-9a-f]{64})` \|", readme)
    assert listed is not None
    assert hashlib.sha256((VENDORED / "compose-spec.json").read_bytes()).hexdigest() == listed.group(1)
    assert "Apache License" in (VENDORED / "LICENSE").read_text(encoding="utf-8")
    assert "deploy/compose-spec/** -text" in (REPO_ROOT / ".gitattributes").read_text(encoding="utf-8")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile line, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [rest for word, rest in _instructions(DOCKERFILE) if word == "USER"]
    assert users, "no USER instruction: the container would run as root"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}
    assert final.isdigit(), "a numeric user id lets an orchestrator verify it is not root"
    stages = [i for i, (word, _) in enumerate(_instructions(DOCKERFILE)) if word == "FROM"]
    last_user = max(i for i, (word, _) in enumerate(_instructions(DOCKERFILE)) if word == "USER")
    assert last_user > stages[-1], "the USER must be set in the final stage"


def test_the_final_stage_keeps_only_the_installed_environment() -> None:
    instructions = _instructions(DOCKERFILE)
    stages = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    assert len(stages) >= 2, "build in one stage, run from another"
    final = instructions[stages[-1]:]
    assert not any(word == "RUN" and "pip install" in rest for word, rest in final)
    assert any(word == "COPY" and rest.startswith("--from=") for word, rest in final)


def test_the_build_context_leaves_out_environments_state_and_history() -> None:
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "var"} <= ignored


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
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()}
    for word, rest in _instructions(DOCKERFILE):
        if word == "COPY" and not rest.startswith("--from="):  # a copy from a build stage is not the context
            for source in rest.split()[:-1]:
                assert (Path(REPO_ROOT) / source).exists(), source
                assert source not in ignored, f"{source} is left out of the build context"
