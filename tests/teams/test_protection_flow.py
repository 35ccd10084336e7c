"""The whole flow over HTTP against the local Graph service: report, escalate, approve, archive.

Staff member and managers are the demo office's people (fixed ids in the sandbox seed);
managers are recognised through the Entra group, asked of Graph.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.escalation import ActionKind
from bot.domain.jobs import JobState
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.verify import verify_case
from bot.jobs.runner import JobRunner
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.seed import (
    DEMO_ABUSER,
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
)
from tests.support.connector import MANAGERS_CHANNEL, in_channel, user_activity
from tests.support.office import BUCHO, KACHO, STAFF
from tests.teams.conftest import BotUnderTest, start_bot

CHANNEL = MANAGERS_CHANNEL
FORBIDDEN = {"delete", "permanentDelete", "forwardTo", "forwardAsAttachmentTo", "redirectTo"}
FLOOD = 120


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    tenant = Tenant()
    seed_demo(tenant, flood=FLOOD)
    running = await start_sandbox(make_sandbox(tenant))
    yield running
    await running.close()


@pytest.fixture
async def bot(tmp_path: Path, sandbox: RunningSandbox) -> AsyncIterator[BotUnderTest]:
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        graph_sandbox_url=sandbox.root_url,
        graph_sandbox_embedded=False,
        manager_group_id=DEMO_MANAGERS_GROUP_ID,
        department_mailbox=DEMO_DEPARTMENT_MAILBOX,
        department_name="市民相談課",
        mail_reference_department="SHIMIN",
        _env_file=None,
    )
    async for running in start_bot(settings):
        yield running


async def reported_and_escalated(bot: BotUnderTest) -> str:
    await bot.say("setup", **in_channel(**KACHO))
    incident_id = await bot.report(
        submission_id="flow-0001-abcdef",
        type="mass-email",
        what_happened="九条という人から毎日100通以上",
        counterpart=DEMO_ABUSER,
        **STAFF,
    )
    await bot.run_jobs()  # the escalation
    return incident_id


APPROVAL = {
    "act.mail-protection": "true",
    "act.cutoff-declaration": "true",
    "draft.cutoff-declaration": "本件に関する当課からの回答は以上です。",
    "act.police-consultation": "true",
    "comment": "証拠保全と打ち切り通知を実施",
}


def sandbox_box(sandbox: RunningSandbox, upn: str) -> Any:
    tenant = sandbox.sandbox.tenant
    return tenant.mailboxes[tenant.by_upn[upn]]


def staff_cards(bot: BotUnderTest) -> list[str]:
    return [
        str(s.activity) for s in bot.connector.sent if s.conversation_id == "a:personal-staff-1"
    ]


async def test_report_to_archived_mail_then_one_previewed_notice(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await reported_and_escalated(bot)
    department = sandbox_box(sandbox, DEMO_DEPARTMENT_MAILBOX)
    _, body, _ = await bot.click(
        "escalation.approve", {"incident": incident_id, **APPROVAL}, **in_channel(**KACHO)
    )
    assert "承認" in str(body["value"])
    await bot.run_jobs()

    box = sandbox_box(sandbox, DEMO_MAILBOX)
    (rule,) = box.rules
    folder_id = rule["actions"]["moveToFolder"]
    assert box.folders[folder_id].display_name == incident_id
    from_abuser = [m for m in box.messages.values() if m.from_address == DEMO_ABUSER]
    assert len(from_abuser) == FLOOD
    assert all(m.folder_id == folder_id for m in from_abuser)  # every one kept, none deleted

    services = bot.services
    store = services.persistence.store
    result = await verify_case(store, LocalBlobStore(Path(bot.app_data_dir) / "blobs"), incident_id)
    assert result.ok and result.count >= FLOOD
    # Approving the cut-off notice sent nothing: it waits for its preview.
    assert not any("回答は以上です" in m.body for m in department.messages.values())
    notices = " ".join(staff_cards(bot))
    assert f"{FLOOD:,}通を証拠フォルダに保全しました" in notices  # what was done
    assert "回答打ち切りの通知" in notices and "送信前の確認待ち" in notices  # what is open
    assert "警察" in notices and "担当: 高橋 課長" in notices  # ... and whose it is
    assert "証拠保全と打ち切り通知を実施" in notices  # the manager's comment

    # The thread card offers the review; the preview shows exactly what goes out.
    thread = [s for s in bot.connector.sent if s.method == "PUT"][-1].activity
    assert "mail.review" in str(thread)
    _, body, _ = await bot.click(
        "mail.review",
        {"incident": incident_id, "action": "cutoff-declaration"},
        **in_channel(**KACHO),
    )
    preview = body["value"]
    facts = {f["title"]: f["value"] for f in preview["body"][2]["facts"]}
    assert facts["差出人（From）"] == DEMO_DEPARTMENT_MAILBOX
    assert facts["宛先（To）"] == DEMO_ABUSER
    subject = facts["件名"]
    assert incident_id not in subject and "SHIMIN-" in subject
    send = next(a for a in preview["actions"] if a["verb"] == "mail.send")
    assert send["title"] == "この内容で送信"

    # A double click (and a second manager at once) sends exactly one mail.
    await asyncio.gather(
        bot.click("mail.send", send["data"], **in_channel(**KACHO)),
        bot.click("mail.send", send["data"], **in_channel(**KACHO)),
        bot.click("mail.send", send["data"], **in_channel(**BUCHO)),
    )
    await bot.run_jobs()
    await bot.run_jobs()
    sent = [m for m in department.messages.values() if "回答は以上です" in m.body]
    assert len(sent) == 1
    assert sent[0].body == "本件に関する当課からの回答は以上です。"
    assert sent[0].subject == subject
    sends = [r for r in sandbox.sandbox.tenant.requests if r.path.endswith("/sendMail")]
    assert len(sends) == 1
    notices = " ".join(staff_cards(bot))
    assert f"を {DEMO_ABUSER} 宛に送信しました" in notices
    _, body, _ = await bot.click("mail.send", send["data"], **in_channel(**KACHO))
    assert "二度送ることはありません" in str(body["value"])

    jobs = await services.persistence.jobs.jobs_for_incident(incident_id)
    assert {j.state for j in jobs} == {JobState.SUCCEEDED}
    incident = await store.load_incident(incident_id)
    assert incident.state.value == "monitoring"

    for request in sandbox.sandbox.tenant.requests:
        assert request.method != "DELETE"
        assert not (FORBIDDEN & set(str(request.body).replace("'", '"').split('"')))


async def test_defaults_send_nothing_and_propose_from_the_figures(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await reported_and_escalated(bot)
    before = len(sandbox_box(sandbox, DEMO_DEPARTMENT_MAILBOX).messages)
    _, body, _ = await bot.click(
        "escalation.refresh", {"incident": incident_id}, **in_channel(**KACHO)
    )
    card = body["value"]
    toggles = {e["id"]: e["value"] for e in card["body"] if e.get("type") == "Input.Toggle"}
    # Only evidence preservation starts selected; no domain block for this volume.
    assert toggles == {
        "act.mail-protection": "true",
        "act.cutoff-declaration": "false",
        "act.police-consultation": "false",
    }
    shown = str(card)
    assert f"相手からのメール: {FLOOD:,}通" in shown  # the figures behind the proposals
    draft = next(e for e in card["body"] if e.get("id") == "draft.cutoff-declaration")
    assert "九条 様" in draft["value"] and "市民相談課" in draft["value"]
    assert "高橋 課長" in draft["value"]  # signed by the manager who decides
    assert "〇" not in draft["value"]
    # Approving with the defaults sends no mail.
    await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.mail-protection": "true"},
        **in_channel(**KACHO),
    )
    await bot.run_jobs()
    assert len(sandbox_box(sandbox, DEMO_DEPARTMENT_MAILBOX).messages) == before
    assert not any(r.path.endswith("/sendMail") for r in sandbox.sandbox.tenant.requests)


async def test_bad_drafts_get_clear_messages_and_are_never_sent(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await reported_and_escalated(bot)
    await bot.click(
        "escalation.approve",
        {
            "incident": incident_id,
            "act.mail-protection": "true",
            "act.cutoff-declaration": "true",
            "draft.cutoff-declaration": "〇〇様　〇月〇日付でお答えしました。",
        },
        **in_channel(**KACHO),
    )
    target = {"incident": incident_id, "action": "cutoff-declaration"}
    _, body, _ = await bot.click("mail.review", target, **in_channel(**KACHO))
    shown = str(body["value"])
    assert "未記入の箇所が残っています: 〇〇様、〇月、〇日" in shown
    assert "mail.send" not in shown  # only the edit form

    async def preview(**fields: str) -> str:
        base = {"to": DEMO_ABUSER, "subject": "ご回答について", "body": "回答は以上です。"}
        _, body, _ = await bot.click(
            "mail.preview", {**target, **base, **fields}, **in_channel(**KACHO)
        )
        return str(body["value"])

    huge = "あ" * 100_000
    shown = await preview(body=huge)
    assert "本文が長すぎます（100,000文字" in shown and "mail.send" not in shown
    mails = bot.services.escalations.mails
    assert mails is not None
    kept = await mails.get(incident_id, ActionKind.CUTOFF_DECLARATION)
    assert kept is not None and kept.mail.body == huge  # nothing typed is lost
    assert "HTMLやMarkdownの記法（<b\\\\>）" in await preview(body="<b>回答</b>は以上です。")
    assert "HTMLやMarkdown" in await preview(body="**回答**は以上です。")
    assert "件名が空です" in await preview(subject="  ")
    assert "部署のメールアドレス自身" in await preview(to=DEMO_DEPARTMENT_MAILBOX)
    assert "mail.send" in await preview()  # fixed: the send button is back
    # A forged send of a stale or blocked text sends nothing.
    _, body, _ = await bot.click("mail.send", {**target, "digest": "0" * 20}, **in_channel(**KACHO))
    assert "変更されています" in str(body["value"])
    _, body, _ = await bot.click("mail.send", {**target, "digest": "x"}, **in_channel(**STAFF))
    assert "上司だけです" in str(body["value"])
    await bot.run_jobs()
    assert not any(r.path.endswith("/sendMail") for r in sandbox.sandbox.tenant.requests)


async def test_personal_fixation_refusal_before_final_warning(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    await bot.say("setup", **in_channel(**KACHO))
    incident_id = await bot.report(
        submission_id="flow-fixation-0001",
        type="personal-fixation",
        what_happened="窓口の私宛てに食事の誘いのメールが何度も届きます",
        counterpart=DEMO_ABUSER,
        **STAFF,
    )
    await bot.run_jobs()
    _, body, _ = await bot.click(
        "escalation.refresh", {"incident": incident_id}, **in_channel(**KACHO)
    )
    toggles = {
        e["id"]: e["value"] for e in body["value"]["body"] if e.get("type") == "Input.Toggle"
    }
    assert toggles["act.refusal-reply"] == "false" and toggles["act.final-warning"] == "false"
    assert "断りの返信が先です" in str(body["value"])
    both = {"incident": incident_id, "act.refusal-reply": "true", "act.final-warning": "true"}
    _, body, _ = await bot.click("escalation.approve", both, **in_channel(**KACHO))
    assert "同時に送れません" in str(body["value"])
    first = {"incident": incident_id, "act.final-warning": "true"}
    _, body, _ = await bot.click("escalation.approve", first, **in_channel(**KACHO))
    assert "断りの返信の後に送ります" in str(body["value"])
    incident = await bot.services.persistence.store.load_incident(incident_id)
    assert incident.state.value == "escalated"  # nothing decided by the refused clicks
    # The final warning cannot be prepared before the refusal went out.
    final = {"incident": incident_id, "action": "final-warning"}
    await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.refusal-reply": "true", "act.mail-protection": "true"},
        **in_channel(**KACHO),
    )
    _, body, _ = await bot.click("mail.prepare", final, **in_channel(**KACHO))
    assert "断りの返信の後にさらにメールが届いたとき" in str(body["value"])
    _, body, _ = await bot.click("mail.send", {**final, "digest": "x"}, **in_channel(**KACHO))
    assert "承認されていません" in str(body["value"])
    assert not any(r.path.endswith("/sendMail") for r in sandbox.sandbox.tenant.requests)


async def test_runner_killed_mid_archive_then_restarted(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await reported_and_escalated(bot)
    await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.mail-protection": "true"},
        **in_channel(**KACHO),
    )
    services = bot.services
    queue = services.persistence.jobs
    sandbox.sandbox.faults.latency = 0.01  # slow enough to stop it midway
    first = JobRunner(
        queue,
        {"mail-protection": services.runner._handlers["mail-protection"]},
        worker_id="crashing",
        lease=dt.timedelta(seconds=1),
        poll_interval=0.01,
    )
    first.start()
    for _ in range(500):
        jobs = [j for j in await queue.jobs_for_incident(incident_id) if j.kind != "escalate"]
        if jobs and jobs[0].progress_done >= 10:
            break
        await asyncio.sleep(0.02)
    # A crash: the task dies without releasing its lease.
    assert first._loop_task is not None
    first._loop_task.cancel()
    if first._handler_task is not None:
        first._handler_task.cancel()
    await asyncio.sleep(1.2)  # the lease expires
    sandbox.sandbox.faults.latency = 0.0
    await bot.run_jobs()

    box = sandbox_box(sandbox, DEMO_MAILBOX)
    folder_id = box.rules[0]["actions"]["moveToFolder"]
    from_abuser = [m for m in box.messages.values() if m.from_address == DEMO_ABUSER]
    assert len(from_abuser) == FLOOD and all(m.folder_id == folder_id for m in from_abuser)
    result = await verify_case(
        services.persistence.store, LocalBlobStore(Path(bot.app_data_dir) / "blobs"), incident_id
    )
    assert result.ok
    entries = [e async for e in services.persistence.store.iter_evidence(incident_id)]
    emails = [e.dedup_key for e in entries if e.kind == "email"]
    assert len(emails) == len(set(emails)) == FLOOD  # each mail recorded exactly once


def download_url(activity: dict[str, Any]) -> str:
    """The download button's URL on a card Mamoru sent."""
    for attachment in activity["attachments"]:
        for action in attachment["content"].get("actions", []):
            if action["type"] == "Action.OpenUrl":
                return str(action["url"])
    raise AssertionError("no download button")


async def download(bot: BotUnderTest, url: str, *, status: int = 200) -> bytes:
    """What the download page does: read the secret from the fragment, POST it."""
    path, _, fragment = url.partition("#")
    assert fragment.startswith("k=")
    link = path.split("/exports/")[1]
    async with bot.http.get(f"{bot.url}/exports/{link}") as page:
        assert page.status == 200 and '<form method="post">' in await page.text()
    async with bot.http.post(f"{bot.url}/exports/{link}", data={"k": fragment[2:]}) as response:
        assert response.status == status
        return await response.read()


async def test_manager_exports_the_bundle_from_the_card(
    bot: BotUnderTest, sandbox: RunningSandbox, tmp_path: Path
) -> None:

    from bot.evidence.verify import verify_bundle

    incident_id = await reported_and_escalated(bot)
    await bot.say("こんにちは", conversation_id="a:personal-kacho", **KACHO)
    await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.mail-protection": "true"},
        **in_channel(**KACHO),
    )
    await bot.run_jobs()

    _, body, _ = await bot.click("escalation.export", {"incident": incident_id}, **STAFF)
    assert "判断できるのは部署の上司だけです" in str(body["value"])  # staff can't export
    _, body, _ = await bot.click(
        "escalation.export", {"incident": incident_id}, **in_channel(**KACHO)
    )
    assert "作成しています" in str(body["value"])
    bot.connector.clear()
    await bot.run_jobs()
    jobs = await bot.services.persistence.jobs.jobs_for_incident(incident_id)
    assert {j.kind: j.state for j in jobs}["export"] is JobState.SUCCEEDED, [
        (j.kind, j.last_error) for j in jobs
    ]
    (message,) = [s for s in bot.connector.sent if s.conversation_id == "a:personal-kacho"]
    url = download_url(message.activity)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(await download(bot, url))
    result = verify_bundle(bundle)
    assert result.ok and result.count == FLOOD + 1  # the staff statement and every mail
    # The thread hears it too, with a button for a new link.
    thread = [
        s.activity
        for s in bot.connector.sent
        if s.conversation_id.startswith(MANAGERS_CHANNEL) and s.method == "POST"
    ]
    assert any("証拠一式ができました（高橋 課長 さんの依頼）" in str(a) for a in thread)


def resume_buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in card.get("actions", []) if a.get("verb") == "escalation.job.resume"]


async def test_a_manager_resumes_a_stopped_job_from_the_card(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await reported_and_escalated(bot)
    await bot.click(
        "escalation.approve", {"incident": incident_id, **APPROVAL}, **in_channel(**KACHO)
    )
    jobs = bot.services.persistence.jobs
    (protection,) = [
        j for j in await jobs.jobs_for_incident(incident_id) if j.kind == "mail-protection"
    ]
    await jobs.cancel(protection.id)  # stopped (e.g. `mamoru jobs cancel` during an incident)
    await bot.run_jobs()
    _, body, _ = await bot.click(
        "escalation.refresh", {"incident": incident_id}, **in_channel(**BUCHO)
    )
    (button,) = resume_buttons(body["value"])
    assert button["title"] == "再開: 証拠保全ルールと既存メールの保全"

    # Someone who is not a manager cannot resume it.
    _, body, _ = await bot.click(button["verb"], button["data"], **in_channel(**STAFF))
    assert "上司" in str(body["value"])
    assert (await jobs.get(protection.id)).state is JobState.CANCELLED

    _, body, _ = await bot.click(button["verb"], button["data"], **in_channel(**BUCHO))
    assert "再開しました" in str(body["value"])
    assert not resume_buttons(body["value"])
    bot.connector.clear()
    await bot.run_jobs()

    done = await jobs.get(protection.id)
    assert (done.state, done.progress_done) == (JobState.SUCCEEDED, FLOOD)
    box = sandbox_box(sandbox, DEMO_MAILBOX)
    from_abuser = [m for m in box.messages.values() if m.from_address == DEMO_ABUSER]
    assert len(from_abuser) == FLOOD and len({m.folder_id for m in from_abuser}) == 1
    store = bot.services.persistence.store
    result = await verify_case(store, LocalBlobStore(Path(bot.app_data_dir) / "blobs"), incident_id)
    assert result.ok and result.count >= FLOOD
    staff = [s for s in bot.connector.sent if s.conversation_id == "a:personal-staff-1"]
    assert sum("通を証拠フォルダに保全しました" in str(s.activity) for s in staff) == 1
    # Clicking the old button again: nothing to resume, nothing runs twice.
    _, body, _ = await bot.click(button["verb"], button["data"], **in_channel(**BUCHO))
    assert "再開できる状態ではありません" in str(body["value"])


async def test_a_job_that_starts_waiting_sends_no_second_approved_notice(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await reported_and_escalated(bot)
    bot.connector.clear()
    await bot.click(
        "escalation.approve", {"incident": incident_id, **APPROVAL}, **in_channel(**KACHO)
    )
    escalations = bot.services.escalations
    await escalations.drain()
    assert sum("承認しました" in card for card in staff_cards(bot)) == 1

    # The protection job starts, meets a transient fault (throttling) and waits for its
    # next try: running and waiting are still "open", so the staff member hears nothing new.
    jobs = bot.services.persistence.jobs
    claimed = await jobs.claim("worker-test", lease=dt.timedelta(minutes=1))
    assert claimed is not None and claimed.kind == "mail-protection"
    await escalations.on_job_change(claimed)  # running
    await escalations.notices.notify_staff(incident_id)
    waiting = await jobs.fail(
        claimed.id,
        "worker-test",
        "throttled",
        retry_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
        wait_reason="throttled",
    )
    await escalations.on_job_change(waiting)
    await escalations.notices.notify_staff(incident_id)
    await escalations.drain()
    assert sum("承認しました" in card for card in staff_cards(bot)) == 1


async def test_staff_who_report_right_after_their_first_message_are_told_once_it_finished(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    """The staff member's first message (personal chat) and their report follow each other
    before the first contact's registration ran (it waits for the answers in progress):
    the report's click carries no chat reference, and must not erase the message's one."""
    await bot.say("setup", **in_channel(**KACHO))
    hello = user_activity(bot.connector_url, text="こんにちは", **STAFF)
    assert hello["conversation"]["conversationType"] == "personal"
    assert hello["from"]["aadObjectId"] and hello["conversation"]["tenantId"]
    report = {
        "submission_id": "flow-0002-abcdef",
        "type": "mass-email",
        "what_happened": "九条という人から毎日100通以上",
        "counterpart": DEMO_ABUSER,
        "locale": "ja",
    }
    # Someone else's answer is in progress meanwhile (a busy office): the registration
    # waits for it, so the report's click comes while it is still pending.
    foreground = bot.services.escalations._background.foreground
    assert foreground is not None
    with foreground.serving():
        response = await bot.post(hello)
        assert response.status in (200, 202)
        _, body, _ = await bot.click("incident.report.submit", report, **STAFF)
    match = re.search(r"KH-\d{4}-\d{4,}", body["value"]["body"][0]["text"])
    assert match
    incident_id = match.group(0)
    await bot.run_jobs()  # the escalation
    _, body, _ = await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.mail-protection": "true"},
        **in_channel(**KACHO),
    )
    assert "承認" in str(body["value"])
    await bot.run_jobs()
    await bot.run_jobs()

    jobs = await bot.services.persistence.jobs.jobs_for_incident(incident_id)
    (protection,) = [j for j in jobs if j.kind == "mail-protection"]
    assert (protection.state, protection.progress_done) == (JobState.SUCCEEDED, FLOOD)
    finished = [
        card for card in staff_cards(bot) if f"{FLOOD:,}通を証拠フォルダに保全しました" in card
    ]
    assert len(finished) == 1  # in their personal chat, exactly once
