"""The platform-report card: steps and official links per platform, and recording a report."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.locale import Locale
from bot.domain.platforms import BEFORE, LAW_NOTE, MOVED, guide_for
from bot.domain.sns import Platform
from cards.elements import Element, card, container, execute, heading, text
from cards.i18n import t
from cards.sns import platform_name
from cards.verbs import Verb

STATUSES = ("reported", "removed", "refused", "no-answer")


def platforms_card(
    locale: Locale, *, case_id: str, platforms: Sequence[Platform], recorded: str = ""
) -> Element:
    """How to report on each platform of the case, and a form to record who reported what."""
    shown = list(dict.fromkeys(platforms)) or [Platform.X, Platform.FACEBOOK, Platform.INSTAGRAM]
    body: list[Element] = [heading(t("sns.platforms.title", locale))]
    if recorded:
        body.append(container([text(recorded, weight="Bolder")], style="good"))
    body += [
        text(BEFORE(locale), weight="Bolder"),
        container([text("⚖️ " + LAW_NOTE(locale), size="Small")], style="emphasis"),
    ]
    for platform in shown:
        guide = guide_for(platform)
        links = [f"[{link.title(locale)}]({link.url})" for link in guide.links]
        body.append(
            container(
                [
                    text(platform_name(platform, locale), weight="Bolder"),
                    text("\r".join(f"{i}. {s(locale)}" for i, s in enumerate(guide.steps, 1))),
                    text(" / ".join(links), size="Small"),
                ],
                separator=True,
            )
        )
    body.append(text(MOVED(locale), size="Small", subtle=True))
    if case_id:
        body += [
            text(t("sns.platforms.record", locale, id=case_id), weight="Bolder", separator=True),
            {
                "type": "Input.ChoiceSet",
                "id": "platform",
                "label": t("sns.platforms.platform", locale),
                "isRequired": True,
                "value": shown[0].value,
                "choices": [
                    {"title": platform_name(p, locale), "value": p.value} for p in Platform
                ],
            },
            {
                "type": "Input.ChoiceSet",
                "id": "status",
                "label": t("sns.platforms.status", locale),
                "isRequired": True,
                "value": STATUSES[0],
                "choices": [
                    {"title": t(f"sns.platforms.status.{s}", locale), "value": s} for s in STATUSES
                ],
            },
            {
                "type": "Input.Text",
                "id": "answer",
                "label": t("sns.platforms.answer", locale),
                "isMultiline": True,
                "maxLength": 2000,
            },
        ]
    actions = (
        [
            execute(
                t("sns.platforms.submit", locale), Verb.SNS_PLATFORM_REPORTED, locale, case=case_id
            )
        ]
        if case_id
        else []
    )
    return card(body, actions)
