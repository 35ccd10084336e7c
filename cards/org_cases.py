"""Organisational-case cards: the merge confirmation and the organisational case itself.

Both show only what the viewer may see: the confirmation lists the cases the merge will
take (all of them the viewer's to merge), the case card lists visible members and counts
the others (「他部署の案件 1件」) without ids, names or departments.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.incidents import JST, Incident
from bot.domain.locale import Locale
from bot.domain.org_cases import MergePlan, OrgCaseView, OrgTotals
from cards.elements import Element, bullets, card, container, execute, heading, plain, text
from cards.i18n import t
from cards.verbs import Verb


def _department(incident: Incident, departments: Mapping[str, str]) -> str:
    return plain(departments.get(incident.department, incident.department))


def _member_line(
    incident: Incident, departments: Mapping[str, str], key: str, locale: Locale
) -> str:
    return t(
        key,
        locale,
        id=incident.id,
        department=_department(incident, departments),
        date=incident.created_at.astimezone(JST).strftime("%Y-%m-%d"),
    )


def merge_confirm_card(
    incident_id: str, plan: MergePlan, departments: Mapping[str, str], locale: Locale
) -> Element:
    """「組織案件にまとめる」: exactly which cases, and one button that merges those."""
    n = len(plan.members)
    lines = [
        _member_line(
            member,
            departments,
            "org.confirm.member.already" if member.id in plan.already else "org.confirm.member",
            locale,
        )
        for member in plan.members
    ]
    body: list[Element] = [
        heading(t("org.confirm.title", locale, n=n)),
        text(t("org.confirm.now", locale, n=n), weight="Bolder"),
        text(
            t("org.confirm.into", locale, id=plan.org_id)
            if plan.org_id
            else t("org.confirm.new", locale)
        ),
        bullets(lines),
    ]
    notes = [t("org.confirm.elsewhere", locale, id=c, org=o) for c, o in plan.elsewhere]
    if plan.not_yours:
        notes.append(t("org.confirm.not_yours", locale, n=plan.not_yours))
    if notes:
        body.append(container([text(note, size="Small") for note in notes], style="emphasis"))
    body.append(text(t("org.confirm.evidence", locale), size="Small", subtle=True))
    members = ",".join(i.id for i in plan.members)
    return card(
        body,
        [
            execute(
                t("org.confirm.go", locale, n=n),
                Verb.ORG_MERGE_CONFIRM,
                locale,
                incident=incident_id,
                members=members,
            )
        ],
    )


def _counterpart(keys: tuple[str, ...]) -> str:
    # "email:a@b.example" -> "a@b.example"; the kind prefix means nothing to a reader.
    return ", ".join(key.partition(":")[2] for key in keys)


def org_case_card(
    view: OrgCaseView,
    totals: OrgTotals,
    departments: Mapping[str, str],
    locale: Locale,
    *,
    note: str = "",
) -> Element:
    """The organisational case for one viewer: members they see, counts of the others."""
    org = view.org
    body: list[Element] = [
        heading(t("org.title", locale, id=org.id)),
        text(t("org.now", locale), weight="Bolder"),
    ]
    if note:
        body.append(container([text(note, weight="Bolder")], style="warning"))
    created = org.created_at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    facts = [
        (t("org.counterpart", locale), plain(_counterpart(view.counterpart)) or "—"),
        (t("org.created", locale), f"{plain(org.created_by.display_name)} {created}"),
        (t("org.totals.mails", locale), t("org.count.mails", locale, n=totals.mails)),
        (t("org.totals.sns", locale), t("org.count.items", locale, n=totals.sns_posts)),
        (
            t("org.totals.tasks", locale),
            t("org.count.tasks", locale, open=totals.tasks_open, total=totals.tasks_total),
        ),
    ]
    body.append({"type": "FactSet", "facts": [{"title": a, "value": b} for a, b in facts]})
    total = len(view.visible) + view.hidden_other_departments + view.hidden_same_department
    body.append(text(t("org.members", locale, n=total), weight="Bolder"))
    lines = [_member_line(i, departments, "org.confirm.member", locale) for i in view.visible]
    if view.hidden_other_departments:
        lines.append(t("org.hidden.other", locale, n=view.hidden_other_departments))
    if view.hidden_same_department:
        lines.append(t("org.hidden.same", locale, n=view.hidden_same_department))
    body.append(bullets(lines))
    body.append(text(t("org.evidence", locale), size="Small", subtle=True))
    if view.removable:
        removals = [
            execute(t("org.remove", locale, id=i), Verb.ORG_REMOVE, locale, org=org.id, case=i)
            for i in view.removable
        ]
        body.append({"type": "ActionSet", "actions": removals[:5]})
    actions: list[Element] = [
        execute(
            t("link.open", locale, id=i.id, department=_department(i, departments)),
            Verb.CASE_SHOW,
            locale,
            incident=i.id,
        )
        for i in view.visible[:4]
    ]
    if view.can_export:
        actions.insert(0, execute(t("org.export", locale), Verb.ORG_EXPORT, locale, org=org.id))
    return card(body, actions)
