"""The guidance card: what to do now, what not to do, model replies and the legal basis."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.locale import Locale
from bot.domain.playbooks import LegalBasis, Line, Playbook, Script
from bot.domain.triage import TriageRecord
from cards.elements import (
    Element,
    bullets,
    card,
    container,
    execute,
    heading,
    hidden,
    legal_reminder,
    next_steps,
    show_card,
    stacked,
    text,
    toggle,
    triage_data,
)
from cards.frozen import freeze
from cards.i18n import t
from cards.verbs import Verb

FIRST_SCREEN_STEPS = 5  # a phone shows about this much before the first scroll


@dataclass(frozen=True, slots=True)
class GuidanceParts:
    """What a guidance card shows that depends on its playbook and locale only: frozen.

    Built once per playbook and locale and shared by every turn (``bot.guidance.answer.Guide``);
    only the buttons, which carry how each message was triaged, are built per turn.
    """

    head: list[Element]  # the title and the first things to do
    tail: list[Element]  # the parts behind a tap and the legal reminder


def guidance_parts(playbook: Playbook, locale: Locale) -> GuidanceParts:
    """The shared, read-only parts of ``playbook``'s guidance card in ``locale``."""
    head = [
        heading(playbook.title(locale), size="Large"),
        heading(t("guidance.now", locale)),
        bullets([step(locale) for step in playbook.checklist[:FIRST_SCREEN_STEPS]], numbered=True),
    ]
    tail = [*stacked(details(playbook, locale)), legal_reminder(locale)]
    return GuidanceParts(freeze(head), freeze(tail))


def guidance_card(
    playbook: Playbook,
    locale: Locale,
    *,
    triage: TriageRecord | None = None,
    parts: GuidanceParts | None = None,
) -> Element:
    """The guidance for ``playbook``, sized for a phone.

    First screen: the title and at most five things to do now, then the next steps as
    full-width buttons. Do/don't, key points, common mistakes and the legal basis are
    one tap away (Action.ShowCard); statute texts open on demand inside the legal part.
    ``triage`` (how the message was read) rides along to the report form. ``parts``:
    ``guidance_parts(playbook, locale)`` built earlier (they are built here otherwise).
    """
    parts = parts or guidance_parts(playbook, locale)
    body: list[Element] = [
        *parts.head,
        *stacked(
            [
                execute(
                    t("action.scripts", locale),
                    Verb.SHOW_SCRIPTS,
                    locale,
                    playbook=playbook.id,
                    **triage_data(triage),
                ),
                *next_steps(locale, playbook_id=playbook.id, triage=triage),
            ]
        ),
        *parts.tail,
    ]
    return card(body)


def details(playbook: Playbook, locale: Locale) -> list[Element]:
    """The parts behind a tap: do/don't, key points, common mistakes, legal basis."""
    rest = playbook.checklist[FIRST_SCREEN_STEPS:]
    do_dont: list[Element] = [
        container(
            [heading(t("guidance.do", locale)), bullets([d(locale) for d in playbook.do])],
            style="good",
        ),
        container(
            [heading(t("guidance.dont", locale)), bullets([d(locale) for d in playbook.dont])],
            style="attention",
        ),
    ]
    if rest:
        do_dont.insert(0, bullets([step(locale) for step in rest]))
    return [
        show_card(t("guidance.do_dont", locale), do_dont),
        show_card(
            t("guidance.key_points", locale),
            [text(playbook.summary(locale)), bullets([p(locale) for p in playbook.key_points])],
        ),
        show_card(t("guidance.mistakes", locale), _mistakes_section(playbook, locale)),
        show_card(t("guidance.legal", locale), legal_section(playbook.legal_basis, locale)),
    ]


def scripts_card(
    playbook: Playbook,
    locale: Locale,
    *,
    selected: Script | None = None,
    triage: TriageRecord | None = None,
) -> Element:
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
        execute(
            t("action.report", locale),
            Verb.REPORT_OPEN,
            locale,
            playbook=playbook.id,
            **triage_data(triage),
        )
    )
    body[-1:-1] = stacked(actions)
    return card(body)


def _channel(script: Script, locale: Locale) -> str:
    return t(f"scripts.channel.{script.channel.value}", locale)


def _script_section(script: Script, locale: Locale) -> list[Element]:
    return [
        heading(f"{_channel(script, locale)}: {script.title(locale)}"),
        text(script.situation(locale), subtle=True),
        *[_line(line, locale) for line in script.lines],
        text(f"**{t('scripts.why', locale)}**: {script.why(locale)}", size="Small"),
    ]


def _line(line: Line, locale: Locale, *, bad_example: bool = False) -> Element:
    # In a bad example the staff member is not speaking for the organisation.
    key = "speaker.staff_bad" if bad_example and line.speaker.value == "staff" else None
    speaker = t(key or f"speaker.{line.speaker.value}", locale)
    prefix = f"**{speaker}**: " if speaker else ""
    return text(prefix + line.text(locale))


def legal_section(bases: list[LegalBasis], locale: Locale) -> list[Element]:
    """Each article: what it means here and its source; the statute text on demand."""
    items: list[Element] = []
    for basis in bases:
        quote_id = f"quote-{basis.id}"
        items.extend(
            [
                heading(f"{basis.law(locale)} {basis.article(locale)}", size="Default"),
                text(basis.summary(locale), size="Small"),
                hidden(text(f"「{basis.quote_ja}」", size="Small"), quote_id),
                {
                    "type": "ActionSet",
                    "actions": [toggle(t("guidance.statute", locale), quote_id)],
                },
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
        items.append(heading(mistake.title(locale), size="Default"))
        items.extend(_line(line, locale, bad_example=True) for line in mistake.example)
        items.append(text(f"{t('mistake.why', locale)}: {mistake.why_it_hurts(locale)}"))
    return items
