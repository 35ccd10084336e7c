"""Every SNS card kind with sample data, for the Adaptive Cards schema test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from bot.domain.evidence import Screenshot
from bot.domain.incidents import Person
from bot.domain.locale import Locale
from bot.domain.report import FieldProblem
from bot.domain.sns import LegalClock, Platform
from bot.domain.sns_capture import CaptureResult, CaseChoice, Note, PendingCapture, RecordedPost
from bot.domain.sns_monitor import SpreadObservation
from bot.domain.tasks import tasks_for
from cards.elements import card
from cards.sns import (
    capture_form_card,
    capture_result_card,
    no_case_card,
    notes_card,
    protection_card,
)
from cards.sns_monitor import spread_prompt_card, spread_recorded_card
from cards.sns_platforms import platforms_card
from cards.tasks import task_checklist

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
SHOT = Screenshot("a" * 64, "screenshot-1.png", "image/png")


def sns_cards(locale: Locale) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, card) for each SNS card kind in ``locale``, at its largest."""
    urls = tuple(f"https://x.com/u/status/{i}" + "x" * 200 for i in range(20))
    pending = PendingCapture(NOW, urls, (SHOT,) * 10)
    cases = [CaseChoice(f"KH-2026-{i:04d}", "名指し" * 30, NOW) for i in range(1, 21)]
    notes = [Note("sns.url.scheme", {"text": "javascript:alert(1)"})] * 20
    problems = (FieldProblem("account", "入力してください。", "Please fill in."),)
    yield (
        f"sns-capture-form-{locale}",
        capture_form_card(pending, cases, locale, notes=notes, problems=problems),
    )
    yield f"sns-capture-empty-{locale}", capture_form_card(PendingCapture(NOW), cases, locale)
    yield f"sns-no-case-{locale}", no_case_card(notes, locale)
    yield f"sns-notes-{locale}", notes_card(notes, locale)
    posts = tuple(
        RecordedPost(i, urls[i], Platform.X, NOW - dt.timedelta(days=30 * i), (SHOT,) * 3, i > 2)
        for i in range(1, 20)
    )
    result = CaptureResult("KH-2026-0001", posts, tuple(notes))
    yield (
        f"sns-capture-result-{locale}",
        capture_result_card(result, locale, now=NOW, clock=LegalClock()),
    )
    yield f"sns-protect-deal-{locale}", protection_card(locale, deal=True, case_id="KH-2026-0001")
    yield f"sns-protect-{locale}", protection_card(locale, deal=False)
    yield (
        f"sns-platforms-{locale}",
        platforms_card(locale, case_id="KH-2026-0001", platforms=list(Platform), recorded="ok"),
    )
    yield f"sns-platforms-nocase-{locale}", platforms_card(locale, case_id="", platforms=[])
    yield (
        f"sns-monitor-prompt-{locale}",
        spread_prompt_card("KH-2026-0001", 3, locale, notes=notes, problem="bad"),
    )
    observation = SpreadObservation(120, 4, 20, tuple(urls), "増えている")
    yield (
        f"sns-monitor-recorded-{locale}",
        spread_recorded_card("KH-2026-0001", 12, observation, locale, notes),
    )
    owner = {"owner_id": "m", "owner_name": "課長", "at": NOW, "today": NOW.date()}
    tasks = [
        *tasks_for("KH-2026-0001", "safety-measures", **owner),  # type: ignore[arg-type]
        *tasks_for("KH-2026-0001", "care-followup", **owner),  # type: ignore[arg-type]
    ]
    managers = [Person("m2", "佐藤 係長")]
    later = NOW.date() + dt.timedelta(days=2)  # the first ones are overdue by then
    yield (
        f"sns-tasks-{locale}",
        card(task_checklist(tasks, "KH-2026-0001", locale, today=later, managers=managers)),
    )
