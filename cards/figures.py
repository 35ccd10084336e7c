"""The managers' 「集計」 card: the organisation's figures on one phone screen."""

from __future__ import annotations

from bot.domain.figures import OrgFigures
from bot.domain.locale import Locale
from cards.elements import Element, card, heading, show_card, text
from cards.i18n import t

TYPE_TITLES = {
    Locale.JA: {
        "mass-email": "大量・執拗なメール",
        "personal-fixation": "特定職員への執着",
        "sns-defamation": "SNSでの誹謗中傷",
        "general-first-response": "電話・窓口での威圧",
        "urgent-safety": "身の危険（緊急）",
    },
    Locale.EN: {
        "mass-email": "Mail floods",
        "personal-fixation": "Personal fixation",
        "sns-defamation": "SNS defamation",
        "general-first-response": "Phone / counter intimidation",
        "urgent-safety": "Danger (urgent)",
    },
}


def _facts(rows: list[tuple[str, str]]) -> Element:
    return {"type": "FactSet", "facts": [{"title": a, "value": b} for a, b in rows]}


def figures_card(
    f: OrgFigures, locale: Locale, *, departments: dict[str, str] | None = None
) -> Element:
    """Headline figures first; by type, department and month behind toggles."""
    names = departments or {}

    def hours(value: float | None) -> str:
        return t("fig.none", locale) if value is None else t("fig.hours", locale, h=value)

    count = lambda n: t("fig.count", locale, n=n)  # noqa: E731
    headline = [
        (t("fig.cases", locale), count(f.cases)),
        (t("fig.to_decision", locale), hours(f.to_decision.median_hours)),
        (t("fig.to_protection", locale), hours(f.to_protection.median_hours)),
        (t("fig.mails", locale), t("fig.mails.value", locale, n=f"{f.mails_preserved:,}")),
        (
            t("fig.tasks", locale),
            t("fig.tasks.value", locale, open=f.open_tasks, overdue=f.overdue_tasks),
        ),
        (
            t("fig.repeat", locale),
            t(
                "fig.repeat.value",
                locale,
                n=f.repeat_counterparts,
                cases=f.cases_with_repeat_counterpart,
            ),
        ),
        (t("fig.visible", locale), count(len(f.visible_cases))),
    ]
    titles = TYPE_TITLES[locale]
    by_type = [(titles.get(k, k), count(v)) for k, v in f.by_type.items() if v]
    by_department = [(names.get(k, k), count(v)) for k, v in f.by_department.items()]
    by_month = [(k, count(v)) for k, v in f.by_month.items()]
    return card(
        [
            heading(t("fig.title", locale, start=f.start.isoformat(), end=f.end.isoformat())),
            text(t("fig.intro", locale), size="Small", subtle=True),
            _facts(headline),
            text(t("fig.print", locale), size="Small", subtle=True),
        ],
        [
            show_card(t("fig.by_type", locale), [_facts(by_type or [("-", count(0))])]),
            show_card(t("fig.by_department", locale), [_facts(by_department or [("-", count(0))])]),
            show_card(t("fig.by_month", locale), [_facts(by_month)]),
        ],
    )
