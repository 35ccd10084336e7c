"""At DEBUG, the whole flow logs no name, address, phone number or message text.

``mamoru serve`` configures logging as in production (``bot.logs.configure``) but at
DEBUG; the flow runs over HTTP against the local Graph service (report, escalation,
approval, mail protection, the cut-off mail); every record any logger emitted is
scanned. Libraries that would log SQL parameters or HTTP details stay at WARNING.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from bot import logs
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import DEMO_ABUSER, DEMO_DEPARTMENT_MAILBOX, DEMO_MAILBOX
from tests.support.connector import in_channel
from tests.teams.conftest import BotUnderTest
from tests.teams.test_protection_flow import APPROVAL, KACHO, STAFF, bot, sandbox

__all__ = ["bot", "sandbox"]  # the flow's fixtures

PHONE = "090-1234-5678"
TEXT = f"九条という人から毎日100通以上。電話 {PHONE} からも怒鳴られる"
PHONE_LIKE = re.compile(r"0\d{1,4}-\d{1,4}-\d{3,4}|\+81")


class Collect(logging.Handler):
    """Keeps every record, formatted as the console handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def debug_logs() -> Iterator[Collect]:
    """Logging as ``mamoru serve`` sets it up, at DEBUG, with every record collected."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in logs.QUIET_LIBRARIES}
    logs.configure(environ={logs.LOG_LEVEL_ENV: "debug"})
    collect = Collect()
    root.addHandler(collect)  # after the console handler, whose filter redacts in place
    try:
        yield collect
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_full_flow_at_debug_logs_nothing_personal(
    debug_logs: Collect, bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    assert logging.getLogger().level == logging.DEBUG
    await bot.say(f"{TEXT}。どうすればいいですか", **STAFF)
    await bot.say("setup", **in_channel(**KACHO))
    incident_id = await bot.report(
        submission_id="debug-logs-0001",
        type="mass-email",
        what_happened=TEXT,
        counterpart=DEMO_ABUSER,
        **STAFF,
    )
    await bot.run_jobs()  # the escalation to the managers' channel
    _, body, _ = await bot.click(
        "escalation.approve", {"incident": incident_id, **APPROVAL}, **in_channel(**KACHO)
    )
    assert "承認" in str(body["value"])
    await bot.run_jobs()  # mail protection against the local Graph service, the cut-off mail

    records = debug_logs.records
    assert any(r.name.startswith("bot.") for r in records)  # Mamoru's own records are there
    quiet = [
        r
        for r in records
        if r.levelno < logging.WARNING
        and any(r.name == q or r.name.startswith(q + ".") for q in logs.QUIET_LIBRARIES)
    ]
    assert not quiet, sorted({r.name for r in quiet})
    text = "\n".join(debug_logs.lines)
    personal = [
        "田中",
        "花子",
        "高橋",
        "九条",
        "怒鳴",
        PHONE,
        DEMO_ABUSER,
        DEMO_MAILBOX,
        DEMO_DEPARTMENT_MAILBOX,
        APPROVAL["draft.cutoff-declaration"],
        APPROVAL["comment"],
    ]
    leaked = [word for word in personal if word in text]
    assert not leaked, [line for line in debug_logs.lines if any(w in line for w in leaked)]
    assert logs.EMAIL.search(text) is None, logs.EMAIL.search(text)
    assert PHONE_LIKE.search(text) is None, PHONE_LIKE.search(text)


async def test_a_malformed_activity_is_one_warning_line_not_a_traceback(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    console = logs.RedactSdkRecords()
    caplog.set_level(logging.WARNING)
    async with bot.http.post(
        f"{bot.url}/api/messages", json={"type": "message", "locale": 5, "text": TEXT}
    ) as r:
        assert r.status == 400
    shown = [r for r in caplog.records if console.filter(r)]
    assert [(r.levelname, r.getMessage()) for r in shown] == [
        ("WARNING", "activity refused: malformed (locale)")
    ]
