"""User-supplied text never becomes Markdown in a card: no live link, emphasis or list.

Every card that shows what a person typed (names, summaries, comments, counterpart
addresses, SNS URLs) is rendered here with crafted input, and every string a Teams
client renders as Markdown (TextBlock text, FactSet titles and values) is checked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.cases import CaseDetail, CaseFilter, CasePage, CaseRow, Scope
from bot.domain.escalation import ActionKind, Decision, Proposal, ProposalReason
from bot.domain.evidence import Screenshot
from bot.domain.incidents import (
    Counterparts,
    IncidentDraft,
    IncidentType,
    Person,
    open_incident,
)
from bot.domain.locale import Locale
from bot.domain.outgoing import OutgoingMail, check
from bot.domain.sns import LegalClock, Platform
from bot.domain.sns_capture import CaptureResult, Note, RecordedPost
from bot.domain.tasks import tasks_for
from bot.playbooks import load_library
from cards.case_list import case_detail_card, case_list_card
from cards.elements import plain
from cards.escalation import CaseView, Decided, ViewMode, escalation_card
from cards.exports import export_ready_card, export_thread_card
from cards.notices import case_notice_card, rejection_notice_card
from cards.preview import edit_card, preview_card
from cards.report import incident_summary_card
from cards.sns import capture_result_card, notes_card

AT = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
PHISH = "[再認証](https://evil.example/login)"
CRAFTED = f"{PHISH} **至急** _確認_ <https://evil.example> www.evil.example\n- 一覧\n1. 番号"
# A live link or an address Teams turns into one, anywhere in a card.
LIVE = (
    re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\("),  # [text](url)
    re.compile(r"(?i)[a-z]://[\w.-]"),  # a bare URL
    re.compile(r"(?i)\bwww\."),
)
# The crafted emphasis and list lines, unescaped (the cards' own bold is fine).
RAW = ("**至急**", "**課長**", "**@troll**", "_確認_", "\n- 一覧", "\n1. 番号")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        (PHISH, "\\[再認証\\]\\(https：//evil.example/login\\)"),
        ("**太字** と _斜体_", "\\*\\*太字\\*\\* と \\_斜体\\_"),
        ("- 箇条書き\n1. 番号\n  + 入れ子", "\\- 箇条書き\n1\\. 番号\n  \\+ 入れ子"),
        ("www.evil.example", "www．evil.example"),
        ("taro_y@example.com", "taro\\_y@example.com"),
        ("090-1234-5678、12.5円", "090-1234-5678、12.5円"),  # ordinary text unchanged
        ("a\\b", "a\\\\b"),
        # A right-to-left override would show "請求書fdp.exe" as "請求書exe.pdf".
        ("請求書\u202efdp.exe", "請求書fdp.exe"),
        ("\u2067長課 橋高\u2069 \u202a\u202b\u202c\u202d", "長課 橋高 "),
    ],
)
def test_plain_escapes_what_markdown_would_interpret(typed: str, shown: str) -> None:
    assert plain(typed) == shown


def markdown_strings(node: Any) -> Iterator[str]:
    """Every string a Teams client renders as Markdown in ``node``."""
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node["text"]
        if node.get("type") == "FactSet":
            for fact in node["facts"]:
                yield fact["title"]
                yield fact["value"]
        for value in node.values():
            yield from markdown_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from markdown_strings(item)


def crafted_cards(locale: Locale) -> Iterator[tuple[str, dict[str, Any]]]:
    library = load_library()
    name = f"{PHISH} **課長**"
    incident = open_incident(
        IncidentDraft(
            type=IncidentType.MASS_EMAIL,
            reporter=Person("aad-1", name),
            department="shimin",
            summary=CRAFTED,
            counterparts=Counterparts(
                emails=("x_y@evil.example",),
                domains=("evil.example",),
                sns_accounts=("**@troll**",),
                urls=("https://evil.example/[x](y)",),
            ),
        ),
        incident_id="KH-2026-0001",
        at=AT,
    )
    tasks = tuple(
        tasks_for(
            incident.id, "safety-measures", owner_id="m1", owner_name=name, at=AT, today=AT.date()
        )
    )
    decided = Decided(
        Decision.APPROVE, name, AT, comment=CRAFTED, actions=(ActionKind.MAIL_PROTECTION,)
    )
    proposals = (Proposal(ActionKind.MAIL_PROTECTION, ProposalReason.PRESERVE, preselected=True),)
    for mode in ViewMode:
        view = CaseView(incident, proposals, tasks=tasks, today=AT.date())
        yield f"escalation-{mode}", escalation_card(view, library, locale, mode=mode)
    decided_view = CaseView(incident, proposals, decided=decided, tasks=tasks)
    yield "escalation-decided", escalation_card(decided_view, library, locale)
    # The organisation mail's preview: the draft may carry the sender's own From name.
    mail = OutgoingMail("dept@city.example.jp", "x_y@evil.example", CRAFTED, f"{CRAFTED}\n様")
    kind = ActionKind.CUTOFF_DECLARATION
    yield "mail-preview", preview_card(incident.id, kind, mail, (), locale)
    yield "mail-blocked", preview_card(incident.id, kind, mail, check(mail), locale)
    yield "mail-edit", edit_card(incident.id, kind, mail, check(mail), locale)
    yield (
        "staff-notice",
        case_notice_card(
            incident.id,
            (),
            locale,
            title_key="notice.approved",
            manager=name,
            comment=CRAFTED,
            open_tasks=(CRAFTED,),
        ),
    )
    yield (
        "staff-rejected",
        rejection_notice_card(incident.id, locale, manager=name, comment=CRAFTED),
    )
    yield "incident-summary", incident_summary_card(incident, library, locale)
    row = CaseRow(incident, age_days=1, open_tasks=tasks, overdue_tasks=0)
    page = CasePage(Scope.MANAGED, CaseFilter.OPEN, (row,), page=1, pages=1, count=1)
    yield "case-list", case_list_card(page, library, locale)
    detail = CaseDetail(incident, tasks, can_act=True, managers=(Person("m2", name),))
    yield "case-detail", case_detail_card(detail, library, locale, today=AT.date())
    yield "export-ready", export_ready_card(incident.id, "e" * 32, name, "https://x", 10, locale)
    yield (
        "export-thread",
        export_thread_card(incident.id, "e" * 32, name, reachable=False, locale=locale),
    )
    post = RecordedPost(
        1,
        "https://x.com/troll/status/1?[a](https://evil.example)",
        Platform.X,
        AT,
        (Screenshot("0" * 64, f"{PHISH}.png", "image/png"),),
    )
    result = CaptureResult(incident.id, (post,), (Note("sns.url.scheme", {"text": PHISH}),))
    yield (
        "sns-result",
        capture_result_card(result, locale, now=AT, clock=LegalClock(warn_days=60, window_days=90)),
    )
    yield "sns-notes", notes_card([Note("sns.url.scheme", {"text": CRAFTED})], locale)


CARDS = [(f"{n}-{locale}", c) for locale in Locale for n, c in crafted_cards(locale)]


@pytest.mark.parametrize(("name", "card"), CARDS, ids=[n for n, _ in CARDS])
def test_crafted_text_renders_inert(name: str, card: dict[str, Any]) -> None:
    shown = list(markdown_strings(card))
    if not name.startswith(("export", "case-list")):  # these show no typed text but names
        assert any("再認証" in s for s in shown), name
    for string in shown:
        for pattern in LIVE:
            assert not pattern.search(string), (name, pattern.pattern, string)
        for raw in RAW:
            assert raw not in string, (name, raw, string)
