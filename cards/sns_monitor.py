"""The spread-monitoring prompt sent to the case owner, and its answer's confirmation."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.locale import Locale
from bot.domain.sns_capture import Note
from bot.domain.sns_monitor import SpreadObservation
from cards.elements import Element, card, execute, heading, plain, text
from cards.i18n import t
from cards.sns import notes_block
from cards.verbs import Verb


def _number(name: str, label: str) -> Element:
    return {
        "type": "Input.Number",
        "id": name,
        "label": label,
        "min": 0,
        "max": 10_000_000,
        "value": 0,
        "isRequired": True,
    }


def spread_prompt_card(
    case_id: str,
    prompt: int,
    locale: Locale,
    *,
    notes: Sequence[Note] = (),
    problem: str = "",
) -> Element:
    """Ask the case owner how far the posts have spread (each answer is evidence)."""
    body: list[Element] = [
        heading(t("sns.monitor.title", locale, id=case_id, n=prompt)),
        *notes_block(notes, locale),
    ]
    if problem:
        body.append(text(problem, color="Attention", weight="Bolder"))
    body += [
        text(t("sns.monitor.intro", locale)),
        _number("reposts", t("sns.monitor.reposts", locale)),
        _number("quotes", t("sns.monitor.quotes", locale)),
        _number("copies", t("sns.monitor.copies", locale)),
        {
            "type": "Input.Text",
            "id": "copy_urls",
            "label": t("sns.monitor.copy_urls", locale),
            "isMultiline": True,
            "maxLength": 4000,
        },
        {
            "type": "Input.Text",
            "id": "remark",
            "label": t("sns.monitor.remark", locale),
            "isMultiline": True,
            "maxLength": 1000,
        },
        text(t("sns.monitor.care", locale), size="Small", subtle=True),
    ]
    actions = [
        execute(
            t("sns.monitor.submit", locale),
            Verb.SNS_MONITOR_ANSWER,
            locale,
            case=case_id,
            prompt=prompt,
        )
    ]
    return card(body, actions)


def spread_recorded_card(
    case_id: str, seq: int, observation: SpreadObservation, locale: Locale, notes: Sequence[Note]
) -> Element:
    """The answer is recorded: what was kept, under which entry number."""
    body = [
        heading(t("sns.monitor.recorded", locale, id=case_id, seq=seq)),
        {
            "type": "FactSet",
            "facts": [
                {"title": t("sns.monitor.reposts", locale), "value": str(observation.reposts)},
                {"title": t("sns.monitor.quotes", locale), "value": str(observation.quotes)},
                {"title": t("sns.monitor.copies", locale), "value": str(observation.copies)},
            ],
        },
        *[text(plain(url[:300]), size="Small") for url in observation.copy_urls[:20]],
        *notes_block(notes, locale),
    ]
    return card(body)
