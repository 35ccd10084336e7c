"""`mamoru sandbox` and `mamoru mail protect` as processes, including a SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
ABUSER = "kujou.claims@example.net"
MAILBOX = "tanaka@city.example.jp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin(url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """`mamoru sandbox --seed demo` in its own process (shared by this module's tests)."""
    tmp_path = tmp_path_factory.mktemp("demo")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "MAMORU_GRAPH_MODE": "sandbox",  # whatever a local .env says
        "MAMORU_GRAPH_SANDBOX_URL": url,
        "MAMORU_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--seed", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            admin(url, "/_sandbox/faults")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("sandbox did not start") from None
            time.sleep(0.1)
    yield url, env
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


PROTECT = ["mail", "protect", "--mailbox", MAILBOX, "--sender", ABUSER, "--case", "LOG-2026-0007"]


@pytest.fixture
def env_of(demo: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The demo sandbox's environment, also applied to this process (for in-process runs)."""
    _, env = demo
    for key in ("MAMORU_GRAPH_MODE", "MAMORU_GRAPH_SANDBOX_URL", "MAMORU_DATA_DIR"):
        monkeypatch.setenv(key, env[key])
    return env


def test_demo_protect_killed_and_rerun(
    demo: tuple[str, dict[str, str]], env_of: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, env = demo
    admin(url, "/_sandbox/faults", {"latency": 0.01})
    first = subprocess.Popen(
        [sys.executable, "-m", "bot", *PROTECT],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = Path(env["MAMORU_DATA_DIR"]) / "mail-evidence" / "LOG-2026-0007" / "log.jsonl"
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text().count("\n") >= 60):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)  # no cleanup, no goodbye
    first.wait()
    done_before = log.read_text().count("\n")
    assert 60 <= done_before < 300

    assert main(PROTECT) == 0  # the re-run, in-process
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["found"] == 300 and summary["complete"]
    assert summary["recorded"] + summary["already_done"] == 300
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 300 and len({x["immutable_id"] for x in lines}) == 300
    assert "archived 300/300" in err and ABUSER not in err  # progress: counts, no addresses

    requests = admin(url, "/_sandbox/requests")
    moves = Counter(
        r["path"].split("/")[-2]
        for r in requests
        if r["path"].endswith("/move") and r["status"] in (201, -1)
    )
    assert len(moves) == 300 and set(moves.values()) == {1}  # none moved twice
    assert not [r for r in requests if r["method"] == "DELETE"]
    shown = admin(url, f"/_sandbox/mailboxes/{MAILBOX}")
    assert shown["folders"]["Inbox/カスハラ証拠保全/LOG-2026-0007"] == 300

    # New mail from the sender, injected through the CLI, lands in the evidence folder.
    assert main(["sandbox", "deliver", "--mailbox", MAILBOX, "--from", ABUSER, "--count", "3"]) == 0
    shown = admin(url, f"/_sandbox/mailboxes/{MAILBOX}")
    assert shown["folders"]["Inbox/カスハラ証拠保全/LOG-2026-0007"] == 303
    admin(url, "/_sandbox/faults", {"latency": 0})


def test_service_down_message_then_resume(
    demo: tuple[str, dict[str, str]],
    env_of: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = demo
    dept = ["mail", "protect", "--mailbox", "shimin-soudan@city.example.jp", "--sender", ABUSER]
    admin(url, "/_sandbox/faults", {"fail5xxSeconds": 2, "retryAfter": 0.2})
    monkeypatch.setenv("MAMORU_GRAPH_RETRY_SECONDS", "0.5")
    assert main(dept) == 1
    err = capsys.readouterr().err
    assert "unavailable" in err and "re-run" in err
    time.sleep(2)
    monkeypatch.delenv("MAMORU_GRAPH_RETRY_SECONDS")
    assert main(dept) == 0
    assert json.loads(capsys.readouterr().out)["recorded"] == 40


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--mailbox", "tanaka", "--sender", ABUSER], "user principal name"),
        (["--mailbox", MAILBOX, "--sender", "x' or 1 eq 1"], "not a valid e-mail address"),
        (["--mailbox", MAILBOX, "--domain", "bad domain"], "not a valid mail domain"),
        (["--mailbox", MAILBOX, "--sender", ABUSER, "--case", "x" * 256], "1 to 255"),
        # A rule for a free-mail domain would catch every resident writing from there.
        (["--mailbox", MAILBOX, "--domain", "GMail.com"], "--shared-domain"),
        (["--mailbox", MAILBOX, "--domain", "@docomo.ne.jp"], "free-mail domain"),
    ],
)
def test_bad_input_exits_2_with_what_to_do(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mail", "protect", *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and "what to do:" in err


def test_unknown_mailbox_and_bad_credentials(
    env_of: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["mail", "protect", "--mailbox", "nobody@city.example.jp", "--sender", ABUSER]
    assert main(args) == 2
    assert "Check the mailbox address" in capsys.readouterr().err
    monkeypatch.setenv("MAMORU_GRAPH_CLIENT_ID", "not-registered")
    monkeypatch.setenv("MAMORU_GRAPH_CLIENT_SECRET", "x")
    assert main(args) == 2
    assert "client secret" in capsys.readouterr().err


def test_protect_into_a_reported_case(
    demo: tuple[str, dict[str, str]], env_of: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A case reported in Teams: the mails go into its evidence chain, which verifies."""
    import asyncio

    from bot.app import build_persistence
    from bot.config import Settings
    from bot.domain.incidents import Counterparts, IncidentDraft, IncidentType, Person
    from bot.domain.ports import SystemClock
    from bot.store import migrate

    settings = Settings(_env_file=None)

    async def report() -> str:
        await migrate.upgrade(settings.effective_database_url)
        persistence = build_persistence(settings, SystemClock())
        incident = await persistence.store.create_incident(
            IncidentDraft(
                type=IncidentType.MASS_EMAIL,
                reporter=Person("d3e0a001-0000-4000-8000-000000000001", "田中 花子"),
                department="default",
                summary="毎日大量のメール",
                counterparts=Counterparts(emails=(ABUSER,)),
            ),
            idempotency_key="cli-case-test",
        )
        await persistence.store.close()
        return incident.id

    Path(env_of["MAMORU_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    case_id = asyncio.run(report())
    other = "suzuki@city.example.jp"  # a mailbox of its own, so other tests' moves don't matter
    assert main(["sandbox", "deliver", "--mailbox", other, "--from", ABUSER, "--count", "25"]) == 0
    capsys.readouterr()
    protect = ["mail", "protect", "--mailbox", other, "--sender", ABUSER, "--case", case_id]
    assert main(protect) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["found"] == 25 and summary["complete"]
    assert "database" in summary["evidence_log"]
    assert main(["evidence", "verify", case_id]) == 0
    # 25 mails (each with its .eml file) after the staff statement recorded at reporting;
    # the run anchored the new head outside the database.
    out = capsys.readouterr().out
    assert "26 entries and 25 files verified" in out
    assert "matches the anchor outside the database: entry 26" in out

    assert main([*protect[:-1], "KH-2026-9999"]) == 2
    assert "no case KH-2026-9999" in capsys.readouterr().err


def test_a_shared_domain_is_protected_only_when_confirmed(
    env_of: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["mail", "protect", "--mailbox", "nobody@city.example.jp", "--domain", "gmail.com"]
    assert main(args) == 2
    assert "--shared-domain" in capsys.readouterr().err
    # Confirmed, the request goes on to the mail service (which knows no such mailbox).
    assert main([*args, "--shared-domain"]) == 2
    assert "Check the mailbox address" in capsys.readouterr().err
