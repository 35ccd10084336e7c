"""Checks by external tools that scripts/setup.sh installs: the Agents Toolkit CLI and checkov.

Marked ``toolchain``: they skip when the tool is missing locally, and must run when
``CI=true`` (tests/conftest.py turns the skip into a failure). Both run offline:

- ``atk validate --manifest-file`` checks the manifest and its localization files against
  the schemas bundled in the CLI (it also runs under ``unshare -n``, with no network at
  all). ``--package-file`` is not used: it asks for a Microsoft 365 sign-in.
- ``checkov --framework bicep --skip-download`` runs its Bicep security rules on
  deploy/infra. It cannot compile Bicep: files it fails to parse are reported as parsing
  errors, which this test refuses.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from bot.commands.deploy import package_files, zip_bytes
from bot.config import Settings
from tests.deploy.support import ATK, CHECKOV, INFRA, LOCALIZATION_SCHEMA
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.toolchain

BOT_ID = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
HOST = "app-mamoru-abc123.azurewebsites.net"


def _package_dir(tmp_path: Path, **overrides: str) -> Path:
    """The package unzipped into tmp_path/package, as Teams would read it."""
    values = {"client_id": BOT_ID, "public_hostname": HOST, **overrides}
    data = zip_bytes(package_files(Settings(**values)))  # type: ignore[arg-type]
    out = tmp_path / "package"
    with zipfile.ZipFile(BytesIO(data)) as archive:
        archive.extractall(out)
    return out


def _atk(manifest: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "TEAMSFX_TELEMETRY_TEST": "false"}
    return subprocess.run(
        [str(ATK), "validate", "--manifest-file", str(manifest), "--telemetry", "false"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=manifest.parent,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def atk_available() -> None:
    """Skip (fail under CI) when the Agents Toolkit CLI is not installed."""
    if not ATK.exists():
        pytest.skip("node_modules lacks @microsoft/m365agentstoolkit-cli: run scripts/setup.sh")


@pytest.fixture
def checkov_available() -> None:
    """Skip (fail under CI) when checkov's isolated venv is missing."""
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed: run scripts/setup.sh (.venv/tools/checkov)")


def test_agents_toolkit_validates_the_manifest(atk_available: None, tmp_path: Path) -> None:
    result = _atk(_package_dir(tmp_path) / "manifest.json")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All passed" in output, output


def test_agents_toolkit_rejects_a_broken_manifest(atk_available: None, tmp_path: Path) -> None:
    package = _package_dir(tmp_path)
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    manifest["name"]["short"] = "x" * 40  # over the 30-character limit
    (package / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    result = _atk(package / "manifest.json")
    assert result.returncode != 0
    assert "/name/short" in result.stdout + result.stderr


def test_localization_file_validates(atk_available: None, tmp_path: Path) -> None:
    schema = json.loads(LOCALIZATION_SCHEMA.read_text(encoding="utf-8"))
    english = json.loads((_package_dir(tmp_path) / "en-us.json").read_text(encoding="utf-8"))
    errors = [e.message for e in Draft4Validator(schema).iter_errors(english)]
    assert not errors


def _checkov_report() -> dict:
    result = subprocess.run(
        [
            str(CHECKOV),
            "--framework",
            "bicep",
            "--directory",
            str(INFRA),
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
        stdin=subprocess.DEVNULL,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_finds_no_unjustified_security_problem(checkov_available: None) -> None:
    report = _checkov_report()
    results = report["results"]
    failed = [
        f"{r['check_id']} {r['resource']} ({r['file_path']})" for r in results["failed_checks"]
    ]
    assert not failed, failed
    assert not results.get("parsing_errors"), "checkov could not parse (so did not check) these"
    assert report["summary"]["passed"] >= 30
    # Every suppression carries its reason in the Bicep file.
    for skipped in results["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "").strip()
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} has no reason"
