"""Issue 5's "done when" in the Agents Playground: a staff member reports a mail flood, a
manager approves it by clicking the card in the managers' channel, the mail is archived.

Two Playgrounds relay to one ``mamoru serve`` (sandbox mode: the local Graph service
with the demo office runs in-process on a free port): one is 田中 花子 (staff,
scripts/playground/staff.yml), the other 高橋 課長 (manager, manager.yml), each driven
by its own Chromium page. Managers are the demo office's Entra group, checked through
the sandbox's Graph; the cut-off notice goes out from the department mailbox.

The Playground (0.2.28) does not implement Adaptive Card ``refresh`` (it logs "User
specific view is not supported yet"), so the thread's card reaches the manager in its
read-only form; its 「判断する」 button asks for the clicker's own view, which for a
manager is the decide view with 「承認して実行」.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from bot.domain.locale import Locale
from cards.i18n import t
from graph.sandbox.seed import (
    DEMO_ABUSER,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_TENANT_ID,
)
from tests.e2e.conftest import PAGE_TIMEOUT_MS, VIEWPORT, Server, _reports, _save_artifacts
from tests.e2e.playground import (
    bot_message_count,
    card_actions,
    click_card_action,
    open_channel,
    open_chat,
    post_in_channel,
    send_message,
    wait_for_bot_text,
    wait_for_card_text,
    wait_for_card_title,
    wait_for_channel_card,
)
from tests.e2e.processes import (
    PLAYGROUND_BIN,
    REPO,
    free_port,
    start_mamoru,
    start_playground,
)

pytestmark = pytest.mark.e2e

CONFIGS = REPO / "scripts" / "playground"
TEAM = "市民相談課"  # scripts/playground/manager.yml, team.name
CHANNEL = "カスハラ対応（管理職）"  # its channel
FLOOD_MESSAGE = "毎日同じ人から100通以上メールが来ます"
REPORT = "インシデントを報告"  # cards/i18n/ja.py, action.report
SUBMIT = "報告する"  # report.submit
DECIDE = "判断する"  # cards/escalation.py, the read-only view's button
APPROVE = "承認して実行"  # esc.approve
JOB_TIMEOUT = 180.0  # seconds from approval to the staff member's "done" notice


@dataclass(frozen=True)
class Office:
    """Mamoru with the demo office's managers and department mailbox, and its sandbox."""

    mamoru: Server
    sandbox_url: str
    data_dir: Path


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    if not PLAYGROUND_BIN.exists():
        pytest.skip(f"{PLAYGROUND_BIN} is missing: run scripts/setup.sh (npm ci)")
    data_dir = tmp_path_factory.mktemp("office-data")
    port, sandbox_port = free_port(), free_port()
    process = start_mamoru(
        port,
        data_dir,
        tmp_path_factory.mktemp("office-logs"),
        sandbox_port=sandbox_port,
        env={
            "MAMORU_GRAPH_MODE": "sandbox",
            "MAMORU_GRAPH_SANDBOX_EMBEDDED": "true",
            "MAMORU_MANAGER_GROUP_ID": DEMO_MANAGERS_GROUP_ID,
            "MAMORU_MANAGER_IDS": "",
            "MAMORU_DEPARTMENT_MAILBOX": DEMO_DEPARTMENT_MAILBOX,
        },
    )
    try:
        yield Office(Server(process, port), f"http://127.0.0.1:{sandbox_port}", data_dir)
    finally:
        process.stop()


@pytest.fixture
def playgrounds(office: Office, tmp_path: Path) -> Iterator[dict[str, Server]]:
    """The staff member's and the manager's Playgrounds, each with its configuration."""
    started: dict[str, Server] = {}
    try:
        for who, config in (("staff", "staff.yml"), ("manager", "manager.yml")):
            process, port = start_playground(
                office.mamoru.port, free_port(), tmp_path / who, config=CONFIGS / config, name=who
            )
            started[who] = Server(process, port)
        yield started
    finally:
        for server in started.values():
            server.process.stop()


@pytest.fixture
def pages(
    browser: Browser,
    office: Office,
    playgrounds: dict[str, Server],
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Page]]:
    """A Chromium page per person, each with its Playground's personal chat open."""
    contexts, opened, consoles = [], {}, {}
    try:
        for who, server in playgrounds.items():
            context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")  # type: ignore[arg-type]
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            console: list[str] = []
            page.on("console", _recorder(console))
            open_chat(page, server.url)
            opened[who], consoles[who] = page, console
        yield opened
    finally:
        reports = request.node.stash.get(_reports, {})
        if any(r.failed for r in reports.values()):
            servers = [office.mamoru, *playgrounds.values()]
            for who, page in opened.items():
                _save_artifacts(f"{request.node.name}-{who}", page, consoles[who], servers)
        for context in contexts:
            context.close()


def _recorder(lines: list[str]) -> Callable[[ConsoleMessage], None]:
    def record(message: ConsoleMessage) -> None:
        lines.append(f"{message.type}: {message.text}")

    return record


# --- the local Graph service, over HTTP with the demo app's token


def _graph_token(sandbox_url: str) -> str:
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        }
    ).encode()
    url = f"{sandbox_url}/{DEMO_TENANT_ID}/oauth2/v2.0/token"
    with urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10) as r:
        return str(json.load(r)["access_token"])


def _graph_get(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Prefer": 'IdType="ImmutableId"'}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return dict(json.load(r))


def mail_from(sandbox_url: str, mailbox: str, sender: str) -> list[dict[str, Any]]:
    """Every message in ``mailbox`` from ``sender`` (id, parentFolderId), all pages."""
    token = _graph_token(sandbox_url)
    query = urllib.parse.urlencode(
        {
            "$filter": f"from/emailAddress/address eq '{sender}'",
            "$select": "id,parentFolderId,subject",
            "$top": "1000",
        },
        quote_via=urllib.parse.quote,
    )
    url: str | None = f"{sandbox_url}/v1.0/users/{mailbox}/messages?{query}"
    found: list[dict[str, Any]] = []
    while url:
        page = _graph_get(url, token)
        found.extend(page["value"])
        url = page.get("@odata.nextLink")
    return found


def mailbox_summary(sandbox_url: str, mailbox: str) -> dict[str, Any]:
    """The sandbox admin view of a mailbox: folder paths with counts, and inbox rules."""
    with urllib.request.urlopen(f"{sandbox_url}/_sandbox/mailboxes/{mailbox}", timeout=10) as r:
        return dict(json.load(r))


# --- the test


def test_manager_approves_a_reported_mail_flood_by_clicking_the_card(
    pages: dict[str, Page], office: Office
) -> None:
    staff, manager = pages["staff"], pages["manager"]
    flood = mail_from(office.sandbox_url, DEMO_MAILBOX, DEMO_ABUSER)
    assert len(flood) >= 100, "the demo office's mailbox should hold the seeded flood"

    # Manager: register the team channel as the managers' channel.
    open_channel(manager, TEAM, CHANNEL)
    post_in_channel(manager, "setup")
    _wait_for_channel_any(
        manager, [t("esc.setup.done", loc, department="default") for loc in Locale]
    )

    # Staff: describe the flood, open the report form from the guidance card, submit it.
    before = send_message(staff, FLOOD_MESSAGE)
    guidance = wait_for_card_text(staff, REPORT, after=before)
    assert REPORT in card_actions(guidance), card_actions(guidance)
    after_click = bot_message_count(staff)
    click_card_action(staff, REPORT, card=guidance)
    form = wait_for_card_title(staff, REPORT, after=after_click)
    form.locator("textarea").first.fill(
        "九条と名乗る人から、毎日100通以上の同じ趣旨のメールが届きます。"
    )
    form.get_by_placeholder("example@example.com", exact=False).fill(DEMO_ABUSER)
    click_card_action(staff, SUBMIT, card=form)
    # The form is replaced in place by the invoke response: the confirmation card.
    received = wait_for_card_text(staff, "KH-", after=after_click)
    incident_id = next(w for w in received.inner_text().split() if w.startswith("KH-"))
    incident_id = incident_id[: len("KH-2026-0001")]
    assert DEMO_ABUSER in received.inner_text()
    sent_texts = [t("esc.sent_to_managers", loc, id=incident_id) for loc in Locale]
    _wait_for_any(staff, sent_texts, after=after_click, timeout=60)

    # Manager: the case arrives as a new thread in the channel, read-only at first.
    thread = wait_for_channel_card(manager, incident_id, timeout=60)
    assert DEMO_ABUSER in thread.inner_text()
    if APPROVE not in card_actions(thread):  # the Playground ignores `refresh`
        assert DECIDE in card_actions(thread), card_actions(thread)
        click_card_action(manager, DECIDE, card=thread)
    decide = wait_for_channel_card(manager, APPROVE)
    assert incident_id in decide.inner_text()
    assert APPROVE in card_actions(decide), card_actions(decide)
    click_card_action(manager, APPROVE, card=decide)
    approved_by = t("esc.approved_by", Locale.JA, name="高橋 課長", at="").split("（")[0]
    decided = wait_for_channel_card(manager, approved_by)
    assert incident_id in decided.inner_text()
    assert APPROVE not in card_actions(decided), "a decided card must not offer approval again"

    # Staff: told when the approved actions have finished (in the language she last wrote
    # in; the Playground itself always sends locale en-US, so either is accepted).
    finished = [t("staff.finished", loc, id=incident_id) for loc in Locale]
    _wait_for_any(staff, finished, after=after_click, timeout=JOB_TIMEOUT)

    # Manager: the thread's card was updated for everyone with the archive's progress.
    total = f"{len(flood):,} / {len(flood):,}"
    wait_for_channel_card(manager, total, timeout=30)

    # Graph: the inbox rule moves the sender's mail into the case's evidence folder,
    # and every message from the sender is there; none was deleted.
    summary = mailbox_summary(office.sandbox_url, DEMO_MAILBOX)
    (rule,) = summary["rules"]
    folder_id = rule["actions"]["moveToFolder"]
    assert DEMO_ABUSER in json.dumps(rule["conditions"])
    after = mail_from(office.sandbox_url, DEMO_MAILBOX, DEMO_ABUSER)
    assert {m["id"] for m in after} == {m["id"] for m in flood}
    assert {m["parentFolderId"] for m in after} == {folder_id}
    evidence_paths = [p for p in summary["folders"] if p.endswith(incident_id)]
    assert evidence_paths and summary["folders"][evidence_paths[0]] == len(flood)

    # The evidence log is complete and verifies (the command staff's IT would run).
    verify = subprocess.run(
        [sys.executable, "-m", "bot", "evidence", "verify", incident_id],
        env={**os.environ, "MAMORU_DATA_DIR": str(office.data_dir)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _wait_for_any(page: Page, texts: list[str], *, after: int, timeout: float) -> None:
    """Wait until a bot message shows one of ``texts`` (the same notice in any language)."""
    deadline = time.monotonic() + timeout
    while True:
        for text in texts:
            try:
                wait_for_bot_text(page, text, after=after, timeout=0)
                return
            except AssertionError as exc:
                last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"none of {texts!r} appeared within {timeout:.0f}s") from last
        time.sleep(0.5)


def _wait_for_channel_any(page: Page, texts: list[str], timeout: float = 30.0) -> None:
    """Wait until a card in the open channel shows one of ``texts``."""
    deadline = time.monotonic() + timeout
    while True:
        for text in texts:
            try:
                wait_for_channel_card(page, text, timeout=0)
                return
            except AssertionError as exc:
                last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"none of {texts!r} appeared within {timeout:.0f}s") from last
        time.sleep(0.5)
