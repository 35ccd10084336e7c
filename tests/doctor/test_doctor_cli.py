"""`mamoru doctor` from the command line: the table, --json and the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from graph.sandbox.seed import (
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_OVERPRIVILEGED_CLIENT_ID,
    DEMO_OVERPRIVILEGED_CLIENT_SECRET,
)


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local setup on the embedded demo Graph service, its database migrated."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for key, value in {
        "MAMORU_DATA_DIR": str(tmp_path / "data"),
        "MAMORU_GRAPH_MODE": "sandbox",
        "MAMORU_ALLOW_ANONYMOUS": "true",
        "MAMORU_MANAGER_GROUP_ID": DEMO_MANAGERS_GROUP_ID,
        "MAMORU_DEPARTMENT_MAILBOX": DEMO_DEPARTMENT_MAILBOX,
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["db", "upgrade"]) == 0


def test_least_privilege_table_and_exit_0(
    local_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "  ✗ " not in out and "  ! " not in out
    assert "✓ Outside the scope" in out and "as it must be" in out
    assert out.rstrip().endswith("0 warning(s), 0 failed")


def test_over_privileged_json_and_exit_1(
    local_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAMORU_GRAPH_CLIENT_ID", DEMO_OVERPRIVILEGED_CLIENT_ID)
    monkeypatch.setenv("MAMORU_GRAPH_CLIENT_SECRET", DEMO_OVERPRIVILEGED_CLIENT_SECRET)
    capsys.readouterr()
    assert main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    failed = {c["check"] for c in report["checks"] if c["status"] == "fail"}
    assert failed == {"Tenant-wide consent", "Outside the scope"}


def test_graph_and_database_can_be_skipped(
    local_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["doctor", "--json", "--no-graph", "--no-database"]) == 0
    areas = {c["area"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert areas == {"Configuration"}
