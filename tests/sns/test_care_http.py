"""Safety and care on an SNS case over HTTP, against the local Graph service (calendar)."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import SNS
from bot.config import Settings
from bot.domain.incidents import Person
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.export import export_bundle
from bot.evidence.verify import verify_bundle
from cards.elements import plain
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.seed import (
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_USER_IDS,
)
from tests.sns.conftest import PNG, image, texts
from tests.support.connector import MANAGERS_CHANNEL, in_channel
from tests.teams.conftest import BotUnderTest, start_bot

CHANNEL = MANAGERS_CHANNEL
STAFF = {"user_aad": DEMO_USER_IDS[DEMO_MAILBOX], "user_id": "29:tanaka", "user_name": "田中 花子"}
KACHO = {
    "user_aad": DEMO_USER_IDS["kacho@city.example.jp"],
    "user_id": "29:kacho",
    "user_name": "高橋 課長",
}


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    tenant = Tenant()
    seed_demo(tenant, flood=0)
    running = await start_sandbox(make_sandbox(tenant))
    yield running
    await running.close()


class MovableClock:
    """A clock the test moves (monitoring prompts are scheduled on it)."""

    def __init__(self, now: dt.datetime) -> None:
        self.at = now

    def now(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(dt.datetime.now(dt.UTC))


@pytest.fixture
async def bot(
    tmp_path: Path, sandbox: RunningSandbox, clock: MovableClock
) -> AsyncIterator[BotUnderTest]:
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        graph_sandbox_url=sandbox.root_url,
        graph_sandbox_embedded=False,
        manager_group_id=DEMO_MANAGERS_GROUP_ID,
        department_mailbox=DEMO_DEPARTMENT_MAILBOX,
        _env_file=None,
    )
    async for running in start_bot(settings, clock=clock):
        yield running


async def escalated_sns_case(bot: BotUnderTest) -> str:
    await bot.say("setup", **in_channel(**KACHO))
    incident_id = await bot.report(
        submission_id="care-0001-abcdef", type="sns-defamation", what_happened="Xで名指し", **STAFF
    )
    await bot.run_jobs()
    return incident_id


async def test_approved_safety_and_care_become_a_tracked_checklist(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await escalated_sns_case(bot)
    # The manager's address, as a directory lookup would have recorded it: the invitation's.
    await bot.services.escalations.remember_user(
        Person(KACHO["user_aad"], KACHO["user_name"]),
        teams_id=KACHO["user_id"],
        reference=None,
        upn="kacho@city.example.jp",
    )
    thread = texts(bot.connector.threads[0]["params"])
    assert "安全確保" in thread or "safety" in thread.lower()  # proposed on the thread card
    _, body, _ = await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.safety-measures": "true", "act.care-followup": "true"},
        **in_channel(**KACHO),
    )
    shown = texts(body["value"])
    assert "一時的に窓口業務から外す（担当 高橋 課長、期限" in shown
    assert "1on1フォローアップ" in shown and "産業医・カウンセラーへの紹介" in shown

    await bot.run_jobs()
    await bot.run_jobs()  # a second run adds nothing
    tenant = sandbox.sandbox.tenant
    # Organised by the department mailbox (inside the guide's RBAC scope), the manager invited:
    # Mamoru never writes to the manager's own mailbox, which the scope does not cover.
    events = list(tenant.mailboxes[DEMO_USER_IDS[DEMO_DEPARTMENT_MAILBOX]].events.values())
    assert len(events) == 1
    (event,) = events
    assert incident_id in event["subject"] and event["transactionId"].startswith("mamoru-")
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == ["kacho@city.example.jp"]
    assert "名指し" not in str(event)  # the case id only, no report text
    (invited,) = tenant.mailboxes[DEMO_USER_IDS["kacho@city.example.jp"]].events.values()
    assert invited["subject"] == event["subject"] and invited["isOrganizer"] is False
    kacho_paths = [
        r.path for r in tenant.requests if "kacho@" in r.path or KACHO["user_aad"] in r.path
    ]
    assert not kacho_paths  # no request ever addressed the manager's mailbox

    # The staff member cannot tick the manager's checklist; the manager can.
    _status, body, _ = await bot.click(
        "sns.task.done", {"incident": incident_id, "task": "off-counter"}, **STAFF
    )
    assert "この部署の上司だけ" in body["value"]["message"]
    bot.connector.clear()
    _, body, _ = await bot.click(
        "sns.task.done", {"incident": incident_id, "task": "off-counter"}, **in_channel(**KACHO)
    )
    assert "☑ 一時的に窓口業務から外す" in texts(body["value"])
    updates = [s for s in bot.connector.sent if s.method == "PUT"]
    assert updates and "☑ 一時的に窓口業務から外す" in texts(updates[-1].activity)
    # The update replaced the thread's own card, not some other message.
    thread = bot.connector.threads[0]
    root = thread["id"].split(";messageid=")[1]
    assert {(u.conversation_id, u.activity_id) for u in updates} <= {
        (thread["id"], root),
        (CHANNEL, root),
    }
    assert not bot.connector.refused_updates
    tasks = await bot.services.escalations.task_source(incident_id)  # type: ignore[misc]
    assert [t.done for t in tasks].count(True) == 1


async def test_done_when_named_on_x_end_to_end(
    bot: BotUnderTest, sandbox: RunningSandbox, clock: MovableClock, tmp_path: Path
) -> None:
    """Issue 6's "done when", over HTTP: report, capture, thread, calendar, prompt, export."""
    await bot.say("setup", **in_channel(**KACHO))
    await bot.say("こんにちは", **STAFF)
    _, body, sent = await bot.click(
        "incident.report.submit",
        {"submission_id": "done-when-0001", "type": "sns-defamation", "what_happened": "Xで名指し"},
        **STAFF,
    )
    assert "個人のアカウントから返信" in texts(sent[0])  # protecting the person
    title = body["value"]["body"][0]["text"]
    case_id = title[title.index("KH-") : title.index("KH-") + 12]

    await bot.run_jobs()  # the escalation: the managers' thread opens
    # A URL and a pasted screenshot in the personal chat; the case shows them with the hash.
    bot.connector.files["pasted"] = (200, "image/png", PNG)
    post = "https://x.com/someone/status/777"
    await bot.say(post, attachments=[image(bot, "pasted")], **STAFF)
    _, body, _ = await bot.click(
        "sns.capture.submit", {"case": case_id, "account": "@someone"}, **STAFF
    )
    sha = hashlib.sha256(PNG).hexdigest()
    assert sha in texts(body["value"]) and plain(post) in texts(body["value"])
    told = [texts(c) for s in bot.connector.sent for c in s.cards if CHANNEL in s.conversation_id]
    assert any(f"{case_id}：SNS投稿 1件を証拠に記録しました（#2 x (1 img)）" in c for c in told)

    # The managers' thread proposes protection and care; approving puts a 1:1 in Outlook.
    thread = texts(bot.connector.threads[0]["params"])
    assert "安全確保（窓口業務から一時的に外す" in thread and "ケア（上司との1対1面談" in thread
    await bot.click(
        "escalation.approve",
        {"incident": case_id, "act.safety-measures": "true", "act.care-followup": "true"},
        **in_channel(**KACHO),
    )
    await bot.run_jobs()
    # Without the manager's address: the department calendar holds it, naming the owner.
    tenant = sandbox.sandbox.tenant
    calendar = tenant.mailboxes[DEMO_USER_IDS[DEMO_DEPARTMENT_MAILBOX]].events
    assert [e["subject"] for e in calendar.values()] == [f"1on1 フォローアップ（{case_id}）"]
    (event,) = calendar.values()
    assert "担当: 高橋 課長" in event["body"]["content"] and "attendees" not in event

    # A monitoring prompt arrives the next day; the answer is evidence.
    bot.connector.clear()
    clock.at += dt.timedelta(days=1, minutes=5)
    await bot.app[SNS].monitor.tick()
    (prompt,) = [c for s in bot.connector.sent for c in s.cards if "拡散状況の確認" in texts(c)]
    button = prompt["actions"][0]
    await bot.click(button["verb"], {**button["data"], "reposts": 30}, **STAFF)

    # The export holds the legal packet and the spread chart, and verifies.
    out = tmp_path / "bundle.zip"
    store = bot.services.persistence.store
    blobs = LocalBlobStore(Path(bot.app_data_dir) / "blobs")
    await export_bundle(store, blobs, case_id, out, actor=Person("l", "法務"), clock=clock)
    assert verify_bundle(out).ok
    with zipfile.ZipFile(out) as zf:
        assert sha in zf.read("legal-packet.html").decode()
        assert "<polyline" in zf.read("spread.svg").decode()
