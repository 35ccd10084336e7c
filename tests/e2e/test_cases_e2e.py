"""Issue 13's case-work "done when" in the Agents Playground: a case reported before the
managers have run ``setup`` reaches their channel once they do (the staff member is told
meanwhile whom to ask), and 「案件一覧」 then lists it with its open tasks.

Same office as test_approval_e2e.py (staff 田中 花子 and manager 高橋 課長, each in their
own Playground, one ``mamoru serve`` with the demo office's sandbox), started here
before anyone has run ``setup``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from bot.domain.locale import Locale
from cards.i18n import t
from graph.sandbox.seed import (
    DEMO_ABUSER,
)
from tests.e2e.playground import (
    bot_message_count,
    card_actions,
    click_card_action,
    open_channel,
    post_in_channel,
    send_message,
    wait_for_card_text,
    wait_for_card_title,
    wait_for_channel_card,
)
from tests.e2e.test_approval_e2e import (  # noqa: F401  (fixtures used by name)
    APPROVE,
    CHANNEL,
    DECIDE,
    FLOOD_MESSAGE,
    REPORT,
    SUBMIT,
    TEAM,
    Office,
    _wait_for_any,
    _wait_for_channel_any,
    demo_office,
    pages,
    playgrounds,
)

pytestmark = pytest.mark.e2e

CONTACT = "情報政策課 Teams 担当（内線 1234）"
POLICE = t("action.kind.police-consultation", Locale.JA)  # the decide view's toggle


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    with demo_office(tmp_path_factory, "cases", {"MAMORU_ADMIN_CONTACT": CONTACT}) as office:
        yield office


def test_a_case_reported_before_setup_reaches_the_channel_and_the_case_list(
    pages: dict[str, Page],  # noqa: F811  (the fixture imported above)
    office: Office,
) -> None:
    staff, manager = pages["staff"], pages["manager"]

    # Staff: report a mail flood before any managers' channel exists.
    before = send_message(staff, FLOOD_MESSAGE)
    guidance = wait_for_card_text(staff, REPORT, after=before)
    after_click = bot_message_count(staff)
    click_card_action(staff, REPORT, card=guidance)
    form = wait_for_card_title(staff, REPORT, after=after_click)
    form.locator("textarea").first.fill("毎日100通以上、同じ趣旨のメールが届きます。")
    form.get_by_placeholder("example@example.com", exact=False).fill(DEMO_ABUSER)
    click_card_action(staff, SUBMIT, card=form)
    received = wait_for_card_text(staff, "KH-", after=after_click)
    incident_id = next(w for w in received.inner_text().split() if w.startswith("KH-"))
    incident_id = incident_id[: len("KH-2026-0001")]
    # Told at once that managers have not set Mamoru up, and whom to ask.
    waiting = [t("esc.not_set_up", loc, id=incident_id, contact=CONTACT) for loc in Locale]
    _wait_for_any(staff, waiting, after=after_click, timeout=60)

    # Manager: `setup` in the channel; the waiting case arrives as a thread.
    open_channel(manager, TEAM, CHANNEL)
    post_in_channel(manager, "setup")
    _wait_for_channel_any(manager, [t("esc.setup.pending", loc, count=1) for loc in Locale])
    thread = wait_for_channel_card(manager, incident_id, timeout=60)
    assert DEMO_ABUSER in thread.inner_text()
    sent = [t("esc.sent_to_managers", loc, id=incident_id) for loc in Locale]
    _wait_for_any(staff, sent, after=after_click, timeout=60)

    # Manager: approve with the police consultation chosen (a task for people).
    if APPROVE not in card_actions(thread):  # the Playground ignores `refresh`
        click_card_action(manager, DECIDE, card=thread)
    decide = wait_for_channel_card(manager, APPROVE)
    decide.get_by_role("checkbox", name=POLICE).check()
    click_card_action(manager, APPROVE, card=decide)
    approved_by = t("esc.approved_by", Locale.JA, name="高橋 課長", at="").split("（")[0]
    wait_for_channel_card(manager, approved_by)

    # Manager: 「案件一覧」 lists the case with its open task.
    post_in_channel(manager, "案件一覧")
    scope = t("cases.scope.managed", Locale.JA)
    listed = wait_for_channel_card(manager, t("cases.title", Locale.JA, scope=scope), timeout=30)
    text = listed.inner_text()
    assert incident_id in text and t("task.police-consultation", Locale.JA) in text
    assert "未完了の作業" in text  # with how many (the other approved actions are jobs)
    # Its detail shows the task with its owner and the timeline.
    click_card_action(manager, t("cases.open", Locale.JA, id=incident_id), card=listed)
    detail = wait_for_channel_card(manager, t("case.title", Locale.JA, id=incident_id))
    assert "高橋 課長" in detail.inner_text()
