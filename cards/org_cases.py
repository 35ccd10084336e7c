"""Organisational-case cards: the merge confirmations and the organisational case itself.

All show only what the viewer may see: a confirmation lists the cases the merge will take
(all of them the viewer's to merge), the case card lists visible members and counts the
others (「他部署の案件 1件」) without ids, names or departments. An organisational case
merged into another shows where its members went, and nothing to act on.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.incidents import JST, Incident
from bot.domain.locale import Locale
from bot.domain.org_cases import MergePlan, OrgCaseView, OrgMergePlan, OrgTotals
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


def org_merge_confirm_card(
    plan: OrgMergePlan, departments: Mapping[str, str], locale: Locale
) -> Element:
    """「組織案件をまとめる」: which member ends up where, and one button that does exactly that."""
    n = len(plan.members)
    into, absorbed = plan.into.id, plan.absorbed.id
    lines = [
        t(
            "org.merge_orgs.moves" if member.id in plan.moving else "org.merge_orgs.stays",
            locale,
            id=member.id,
            department=_department(member, departments),
            date=member.created_at.astimezone(JST).strftime("%Y-%m-%d"),
            into=into,
            absorbed=absorbed,
        )
        for member in plan.members
    ]
    body: list[Element] = [
        heading(t("org.merge_orgs.title", locale, n=n)),
        text(
            t(
                "org.merge_orgs.now",
                locale,
                absorbed=absorbed,
                m=len(plan.moving),
                into=into,
                n=n,
            ),
            weight="Bolder",
        ),
        bullets(lines),
        container(
            [text(t("org.merge_orgs.kept", locale, into=into, absorbed=absorbed), size="Small")],
            style="emphasis",
        ),
        text(t("org.confirm.evidence", locale), size="Small", subtle=True),
    ]
    return card(
        body,
        [
            execute(
                t("org.merge_orgs.go", locale, n=n, into=into),
                Verb.ORG_MERGE_ORGS_CONFIRM,
                locale,
                org=into,
                other=absorbed,
                members=",".join(i.id for i in plan.members),
            )
        ],
    )


def _merged_card(
    view: OrgCaseView, departments: Mapping[str, str], locale: Locale, note: str
) -> Element:
    # An organisational case emptied into another: where its members went, nothing to do.
    org = view.org
    merged = org.merged_into
    assert merged is not None
    at = merged.at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    by = plain(merged.by.display_name)
    created = org.created_at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    lines = [
        t(
            "org.moved",
            locale,
            id=i.id,
            department=_department(i, departments),
            date=i.created_at.astimezone(JST).strftime("%Y-%m-%d"),
            into=merged.org_id,
        )
        for i in view.visible
    ]
    if view.hidden_other_departments:
        lines.append(t("org.hidden.other", locale, n=view.hidden_other_departments))
    if view.hidden_same_department:
        lines.append(t("org.hidden.same", locale, n=view.hidden_same_department))
    total = len(view.visible) + view.hidden_other_departments + view.hidden_same_department
    body: list[Element] = [
        heading(t("org.title", locale, id=org.id)),
        container(
            [text(t("org.merged_into", locale, into=merged.org_id, by=by, at=at), weight="Bolder")],
            style="emphasis",
        ),
        *([container([text(note, weight="Bolder")], style="warning")] if note else []),
        {
            "type": "FactSet",
            "facts": [
                {
                    "title": t("org.created", locale),
                    "value": f"{plain(org.created_by.display_name)} {created}",
                }
            ],
        },
        text(t("org.moved.title", locale, n=total), weight="Bolder"),
        bullets(lines),
        text(t("org.evidence", locale), size="Small", subtle=True),
    ]
    actions: list[Element] = [
        execute(t("org.open", locale, id=merged.org_id), Verb.ORG_SHOW, locale, org=merged.org_id)
    ]
    return card(body, actions)


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
    if org.merged_into is not None:
        return _merged_card(view, departments, locale, note)
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
    if view.mergeable:
        merges = [
            execute(
                t("org.merge_orgs", locale, id=other),
                Verb.ORG_MERGE_ORGS,
                locale,
                org=org.id,
                other=other,
            )
            for other in view.mergeable
        ]
        body.append({"type": "ActionSet", "actions": merges[:3]})
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
