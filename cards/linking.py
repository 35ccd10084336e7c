"""Linked cases on the managers' card: 「同じ相手: 他に3件（2部署）」, links, merge."""

from __future__ import annotations

from bot.domain.linking import LinkedCases
from bot.domain.locale import Locale
from cards.elements import Element, container, execute, text
from cards.i18n import t
from cards.verbs import Verb


def linked_elements(incident_id: str, linked: LinkedCases, locale: Locale) -> list[Element]:
    """The linked-cases block: counts for everyone, links only to cases the viewer may open."""
    if linked.total == 0 and not linked.org_case:
        return []
    items: list[Element] = []
    if linked.total:
        items.append(
            text(
                "🔗 " + t("link.same", locale, n=linked.total, d=linked.departments),
                weight="Bolder",
            )
        )
    if linked.org_case:
        items.append(
            text(t("link.org", locale, id=linked.org_case, n=linked.org_members), size="Small")
        )
    hidden = linked.total - len(linked.openable)
    if hidden > 0:
        items.append(text(t("link.hidden", locale, n=hidden), size="Small", subtle=True))
    buttons: list[Element] = [
        execute(
            t("link.open", locale, id=case_id, department=department),
            Verb.CASE_SHOW,
            locale,
            incident=case_id,
        )
        for case_id, department in linked.openable[:5]
    ]
    if linked.org_case:
        buttons.append(
            execute(
                t("org.open", locale, id=linked.org_case),
                Verb.ORG_SHOW,
                locale,
                org=linked.org_case,
            )
        )
    if linked.can_merge:
        buttons.append(
            execute(t("link.merge", locale), Verb.CASES_MERGE, locale, incident=incident_id)
        )
    if buttons:
        items.append({"type": "ActionSet", "actions": buttons})
    return [container(items, style="emphasis")]
