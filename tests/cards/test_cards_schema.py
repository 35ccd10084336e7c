"""Every kind of card validates against the official Adaptive Cards 1.5 schema and stays small."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.domain.cases import CaseDetail, CaseFilter, CasePage, CaseRow, Scope
from bot.domain.incidents import (
    Counterparts,
    Incident,
    IncidentDraft,
    IncidentType,
    Person,
    open_incident,
)
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.report import FieldProblem
from bot.domain.tasks import tasks_for
from bot.domain.triage import TriageRecord
from bot.playbooks import load_library
from cards.case_list import case_detail_card, case_list_card
from cards.guidance import guidance_card, scripts_card
from cards.menu import MenuReason, menu_card, welcome_card
from cards.notices import error_card, manager_card, notice_card
from cards.report import incident_summary_card, report_form_card
from cards.urgent import (
    AlertOutcome,
    Mentioned,
    alert_sent_card,
    manager_alert_card,
    urgent_card,
    urgent_thread_card,
)
from cards.verbs import Verb
from tests.flood.sample_cards import issue15_cards
from tests.sns.sample_cards import sns_cards
from tests.support.paths import SCHEMAS_DIR

SCHEMA_PATH = SCHEMAS_DIR / "adaptive-cards" / "adaptive-card-1.5.json"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "playbooks"
MAX_CARD_BYTES = 40 * 1024


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def every_card() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each card kind, for every shipped playbook and the fixture one, in both languages."""
    libraries = [load_library(), load_library(FIXTURES)]
    for locale in Locale:
        for library in libraries:
            for reason in MenuReason:
                yield f"menu-{reason}-{locale}", menu_card(library, locale, reason)
            yield f"welcome-{locale}", welcome_card(library, locale)
            for playbook in library:
                yield (
                    f"guidance-{playbook.id}-{locale}",
                    guidance_card(playbook, locale),
                )
                for script in playbook.scripts:
                    yield (
                        f"scripts-{playbook.id}-{script.id}-{locale}",
                        scripts_card(playbook, locale, selected=script),
                    )
        library = libraries[0]
        incident = _sample_incident()
        yield (
            f"report-form-{locale}",
            report_form_card(library, locale, submission_id="abcdefgh", problems=_PROBLEMS),
        )
        yield f"incident-summary-{locale}", incident_summary_card(incident, library, locale)
        yield from _case_cards(incident, library, locale)
        yield f"manager-{locale}", manager_card(locale, playbook_id="mass-email")
        yield f"notice-{locale}", notice_card("unknown_action.title", "unknown_action.body", locale)
        yield f"error-{locale}", error_card(locale, "abc123")
        yield from sns_cards(locale)
        yield from urgent_cards(library, locale)
        yield from issue15_cards(locale)


def urgent_cards(library: PlaybookLibrary, locale: Locale) -> Iterator[tuple[str, dict[str, Any]]]:
    """The safety card, the staff member's confirmation and what the managers receive."""
    safety = library.get("urgent-safety")
    assert safety is not None
    yield (
        f"urgent-{locale}",
        urgent_card(
            safety, locale, alert_id="a1", triage=TriageRecord("triage-x", "urgent-safety", 0.9)
        ),
    )
    for posted, told in ((True, 2), (True, 0), (False, 0)):
        yield (
            f"urgent-sent-{posted}-{told}-{locale}",
            alert_sent_card(safety, locale, AlertOutcome("KH-2026-0001", posted, told)),
        )
    managers = [Mentioned("29:m1", "課長 佐藤"), Mentioned("29:m2", "係長 鈴木")]
    yield (
        f"urgent-thread-{locale}",
        urgent_thread_card(
            staff_name="田中",
            where="1階窓口の奥",
            at="2026-12-02 10:00",
            incident_id="KH-2026-0001",
            managers=managers,
            locale=locale,
        ),
    )
    yield (
        f"urgent-dm-{locale}",
        manager_alert_card(staff_name="田中", where="", incident_id="KH-2026-0001", locale=locale),
    )


_PROBLEMS = (FieldProblem("what_happened", "入力してください。", "Please fill in."),)


def _sample_incident() -> Incident:
    draft = IncidentDraft(
        type=IncidentType.MASS_EMAIL,
        reporter=Person("aad-1", "田中"),
        department="default",
        summary="毎日100通" * 200,
        counterparts=Counterparts(emails=("a@example.com",), domains=("example.com",)),
        physical_threat=True,
    )
    return open_incident(
        draft, incident_id="KH-2026-0001", at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    )


def _case_cards(incident: Incident, library: Any, locale: Locale) -> Iterator[tuple[str, Any]]:
    at = incident.created_at
    tasks = tuple(
        task
        for action in ("police-consultation", "safety-measures", "care-followup")
        for task in tasks_for(
            incident.id, action, owner_id="m1", owner_name="山田 課長", at=at, today=at.date()
        )
    )
    row = CaseRow(incident, age_days=12, open_tasks=tasks, overdue_tasks=2)
    full = CasePage(Scope.MANAGED, CaseFilter.OPEN, (row,) * 8, page=2, pages=3, count=20)
    yield f"case-list-{locale}", case_list_card(full, library, locale)
    empty = CasePage(Scope.MINE, CaseFilter.FINISHED, (), 1, 1, 0, downgraded=True)
    yield f"case-list-empty-{locale}", case_list_card(empty, library, locale)
    managers = (Person("m1", "山田 課長"), Person("m2", "佐藤 係長"))
    detail = CaseDetail(incident, tasks, can_act=True, managers=managers)
    later = at.date() + dt.timedelta(days=5)
    yield f"case-detail-{locale}", case_detail_card(detail, library, locale, today=later)
    readonly = CaseDetail(incident, tasks, can_act=False, managers=())
    yield f"case-detail-staff-{locale}", case_detail_card(readonly, library, locale, today=later)


CARDS = list(every_card())


@pytest.mark.parametrize(("name", "card"), CARDS, ids=[n for n, _ in CARDS])
def test_card_is_valid_adaptive_card_1_5(
    name: str, card: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    # ``msteams`` (mention entities) is Teams' documented host extension at the card's root,
    # unknown to the Adaptive Cards schema; its shape is checked by its own test below.
    plain = {k: v for k, v in card.items() if k != "msteams"}
    errors = sorted(validator.iter_errors(plain), key=lambda e: list(e.path))
    assert not errors, f"{name}: {errors[0].message} at {list(errors[0].path)}"
    assert card["version"] == "1.5"


@pytest.mark.parametrize(("name", "card"), CARDS, ids=[n for n, _ in CARDS])
def test_card_is_under_40_kb(name: str, card: dict[str, Any]) -> None:
    size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    assert size < MAX_CARD_BYTES, f"{name} is {size} bytes"


@pytest.mark.parametrize(("name", "card"), CARDS, ids=[n for n, _ in CARDS])
def test_card_verbs_are_known(name: str, card: dict[str, Any]) -> None:
    known = {v.value for v in Verb}

    def verbs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                yield node["verb"]
            for value in node.values():
                yield from verbs(value)
        elif isinstance(node, list):
            for item in node:
                yield from verbs(item)

    assert set(verbs(card)) <= known, name


def test_schema_rejects_a_malformed_card(validator: jsonschema.protocols.Validator) -> None:
    """The schema check can fail: a card with a misspelt element type is refused."""
    broken = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlok"}]}
    assert list(validator.iter_errors(broken))


def test_the_managers_thread_mentions_each_manager() -> None:
    card = dict(CARDS)["urgent-thread-ja"]
    entities = card["msteams"]["entities"]
    assert [e["mentioned"]["id"] for e in entities] == ["29:m1", "29:m2"]
    shown = json.dumps(card["body"], ensure_ascii=False)
    for entity in entities:
        assert entity["type"] == "mention"
        assert entity["text"] in shown  # Teams needs the <at> text in the card itself
    assert "1階窓口の奥" in shown and "田中" in shown


# Emoji that render as empty boxes on a phone without a colour-emoji font.
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
_PHONE_CARDS = ("menu-", "welcome-", "guidance-", "scripts-", "urgent-")


@pytest.mark.parametrize(
    ("name", "card"),
    [(n, c) for n, c in CARDS if n.startswith(_PHONE_CARDS)],
    ids=[n for n, _ in CARDS if n.startswith(_PHONE_CARDS)],
)
def test_staff_cards_use_no_emoji(name: str, card: dict[str, Any]) -> None:
    assert not _EMOJI.search(json.dumps(card, ensure_ascii=False)), name


@pytest.mark.parametrize(
    ("name", "card"),
    [(n, c) for n, c in CARDS if n.startswith(_PHONE_CARDS)],
    ids=[n for n, _ in CARDS if n.startswith(_PHONE_CARDS)],
)
def test_staff_cards_fit_a_phone(name: str, card: dict[str, Any]) -> None:
    """No action bar of several buttons (labels squeeze to one character per line at 446 px),
    at most five numbered steps on the first screen, and no confidence shown."""
    assert len(card.get("actions", [])) <= 1, name
    for element in card["body"]:
        if element.get("type") == "ActionSet":
            assert len(element["actions"]) == 1, name
    # A button's data is never rendered (it carries how the message was triaged on to
    # the report form, confidence included); everything else may be shown.
    text = json.dumps(_without_button_data(card), ensure_ascii=False)
    assert "確からしさ" not in text and "confidence" not in text.lower(), name


def _without_button_data(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_button_data(v) for k, v in node.items() if k != "data"}
    if isinstance(node, list):
        return [_without_button_data(v) for v in node]
    return node
