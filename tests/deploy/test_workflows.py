"""GitHub workflows (schema + OIDC deployment), the App Service build and the scripts in deploy/."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy.support import DEPLOY
from tests.support.paths import REPO_ROOT

CHECK_WORKFLOWS = [
    sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"
]  # fmt: skip
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


def _load(path: Path) -> ModuleType:
    """Import a script of deploy/scripts (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_app = _load(DEPLOY / "scripts" / "build_app.py")


def _workflow(name: str) -> dict:
    # PyYAML reads the key `on` as True.
    return yaml.safe_load((REPO_ROOT / ".github" / "workflows" / name).read_text("utf-8"))


def test_workflows_validate_against_the_github_schema() -> None:
    assert {p.name for p in WORKFLOWS} >= {"deploy.yml", "ci.yml"}
    result = subprocess.run(
        [*CHECK_WORKFLOWS, *(str(p) for p in WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_jsonschema_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    result = subprocess.run(
        [*CHECK_WORKFLOWS, str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0


def test_deploy_workflow_tests_builds_and_deploys_with_oidc() -> None:
    flow = _workflow("deploy.yml")
    jobs = flow["jobs"]
    assert jobs["build"]["needs"] == "test" and jobs["deploy"]["needs"] == "build"
    assert any(step.get("run") == "make test" for step in jobs["test"]["steps"])
    deploy = jobs["deploy"]
    assert deploy["permissions"]["id-token"] == "write"
    steps = {step.get("uses", "").split("@")[0]: step for step in deploy["steps"]}
    login = steps["azure/login"]["with"]
    assert set(login) == {"client-id", "tenant-id", "subscription-id"}  # OIDC: no secret
    assert "azure/webapps-deploy" in steps
    text = (REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text("utf-8")
    assert "secrets." not in text, "the deployment needs no stored secret"


def test_app_build_holds_code_and_runtime_requirements_only(tmp_path: Path) -> None:
    out = tmp_path / "app"
    entries = build_app.build(out)
    assert entries == ["bot", "cards", "graph", "requirements.txt"]
    assert (out / "bot" / "__main__.py").is_file()
    assert not list(out.rglob("__pycache__"))
    requirements = (out / "requirements.txt").read_text("utf-8")
    pinned = dict(re.findall(r"^([a-z0-9-]+)==([^ ;\\]+)", requirements, re.M))
    for runtime in ("aiohttp", "asyncpg", "sqlalchemy", "microsoft-agents-hosting-aiohttp"):
        assert runtime in pinned
    for dev_only in ("pytest", "ruff", "mypy", "check-jsonschema", "tree-sitter", "playwright"):
        assert dev_only not in pinned
    hashes = requirements.count("--hash=sha256:")
    assert hashes >= len(pinned), "every pin keeps its hashes (pip --require-hashes)"


def test_app_build_keeps_its_gitignore(tmp_path: Path) -> None:
    out = tmp_path / "app"
    out.mkdir()
    (out / ".gitignore").write_text("*\n")
    (out / "stale.txt").write_text("old")
    build_app.build(out)
    assert (out / ".gitignore").read_text() == "*\n"
    assert not (out / "stale.txt").exists()


@pytest.mark.parametrize("script", sorted((DEPLOY / "scripts").glob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
