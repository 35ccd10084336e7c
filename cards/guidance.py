"""The guidance card: what to do now, what not to do, model replies and the legal basis."""

from __future__ import annotations

from bot.domain.locale import Locale
from bot.domain.playbooks import LegalBasis, Line, Playbook, Script
from cards.elements import (
    Element,
    bullets,
    card,
    container,
    execute,
    heading,
    legal_reminder,
    next_steps,
    show_card,
    text,
)
from cards.i18n import t
from cards.verbs import Verb


def guidance_card(
    playbook: Playbook, locale: Locale, *, confidence: float | None = None
) -> Element:
    """The full guidance for ``playbook``: checklist and do/don't in view, the rest one tap away."""
    body: list[Element] = [
        heading(playbook.title(locale), size="Large"),
        text(playbook.summary(locale), subtle=True, spacing="Small"),
        heading(t("guidance.now", locale)),
        bullets([step(locale) for step in playbook.checklist], numbered=True),
        container(
            [heading("✅ " + t("guidance.do", locale)), bullets([d(locale) for d in playbook.do])],
            style="good",
        ),
        container(
            [
                heading("⛔ " + t("guidance.dont", locale)),
                bullets([d(locale) for d in playbook.dont]),
            ],
            style="attention",
        ),
    ]
    if confidence is not None and confidence < 1.0:
        body.append(
            text(
                t("guidance.confidence", locale, percent=round(confidence * 100)),
                size="Small",
                subtle=True,
            )
        )
    body.append(legal_reminder(locale))
    actions = [
        execute(t("action.scripts", locale), Verb.SHOW_SCRIPTS, locale, playbook=playbook.id),
        *next_steps(locale, playbook_id=playbook.id),
        show_card(
            t("guidance.key_points", locale),
            [bullets([p(locale) for p in playbook.key_points])],
        ),
        show_card(t("guidance.legal", locale), _legal_section(playbook.legal_basis, locale)),
        show_card(t("guidance.mistakes", locale), _mistakes_section(playbook, locale)),
    ]
    return card(body, actions)


def scripts_card(playbook: Playbook, locale: Locale, *, selected: Script | None = None) -> Element:
    """The model replies of ``playbook``: the selected one in full, the others one tap away."""
    first = selected or playbook.scripts[0]
    body: list[Element] = [
        heading(t("scripts.title", locale), size="Large"),
        text(playbook.title(locale), subtle=True, spacing="Small"),
        *_script_section(first, locale),
        legal_reminder(locale),
    ]
    others = [s for s in playbook.scripts if s.id != first.id]
    actions = [
        show_card(f"{_channel(s, locale)}: {s.title(locale)}", _script_section(s, locale))
        for s in others[:4]
    ]
    actions.append(
        execute(t("action.report", locale), Verb.REPORT_OPEN, locale, playbook=playbook.id)
    )
    return card(body, actions)


def _channel(script: Script, locale: Locale) -> str:
    return t(f"scripts.channel.{script.channel.value}", locale)


def _script_section(script: Script, locale: Locale) -> list[Element]:
    return [
        heading(f"{_channel(script, locale)}: {script.title(locale)}"),
        text(script.situation(locale), subtle=True),
        *[_line(line, locale) for line in script.lines],
        text(f"💡 {t('scripts.why', locale)}: {script.why(locale)}", size="Small"),
    ]


def _line(line: Line, locale: Locale) -> Element:
    speaker = t(f"speaker.{line.speaker.value}", locale)
    prefix = f"**{speaker}**: " if speaker else ""
    return text(prefix + line.text(locale))


def _legal_section(bases: list[LegalBasis], locale: Locale) -> list[Element]:
    items: list[Element] = []
    for basis in bases:
        items.extend(
            [
                heading(f"{basis.law(locale)} {basis.article(locale)}", size="Default"),
                text(f"「{basis.quote_ja}」", size="Small"),
                text(basis.summary(locale), size="Small"),
                text(
                    f"[{t('guidance.source', locale)}]({basis.source_url}) · "
                    + t("guidance.reviewed_on", locale, date=basis.reviewed_on.isoformat()),
                    size="Small",
                    subtle=True,
                ),
            ]
        )
    items.append(legal_reminder(locale))
    return items


def _mistakes_section(playbook: Playbook, locale: Locale) -> list[Element]:
    items: list[Element] = []
    for mistake in playbook.mistakes:
        items.append(heading("❌ " + mistake.title(locale), size="Default"))
        items.extend(_line(line, locale) for line in mistake.example)
        items.append(text(f"{t('mistake.why', locale)}: {mistake.why_it_hurts(locale)}"))
    return items
