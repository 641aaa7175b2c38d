"""The layers of docs/architecture.md section 2 hold as an import contract (``[tool.importlinter]`` in
pyproject.toml), and the contract refuses an import that crosses them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "consent", "sandbox")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages found in ``tree``, with no cache (each run reads the files as they are)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the three packages and the contract, to break on purpose."""
    copy = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _with_import(tree: Path, *, module: str, statement: str) -> Path:
    path = tree / Path(*module.split(".")).with_suffix(".py")
    path.write_text(f'"""Added by the test: a forbidden import."""\n\n{statement}\n')
    return path


def test_the_repository_keeps_every_contract() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("consent.forbidden_probe", "import gateway.errors", "consent and the sandbox bank import nothing"),
        ("sandbox.forbidden_probe", "import consent.models", "independent of each other"),
        ("gateway.pipeline.forbidden_probe", "import sandbox.customers", "only from the command line"),
        ("gateway.hosting.forbidden_probe", "import gateway.cli.main", "imported by nothing else"),
        ("gateway.pipeline.forbidden_probe", "import gateway.oauth.token", "share code only through"),
        ("gateway.pipeline.forbidden_probe", "import gateway.hosting.consent_routes", "only by the composition root"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(tree: Path, module: str, statement: str, contract: str) -> None:
    probe = _with_import(tree, module=module, statement=statement)
    try:
        done = _lint(tree)
    finally:
        probe.unlink()
    assert done.returncode != 0, done.stdout
    assert contract in done.stdout
    assert "BROKEN" in done.stdout
