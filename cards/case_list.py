"""The case list (「案件一覧」 / 「自分の案件」) and the case detail card.

The list is short enough for a phone: one block per case (id, kind, state, age,
counterpart, open and overdue tasks), state filters and paging as Action.Execute
buttons; a case opens its detail card (facts, tasks, timeline, and for managers the
decision card and the export).
"""

from __future__ import annotations

import datetime as dt

from bot.domain.cases import CaseDetail, CaseFilter, CasePage, CaseRow, Scope
from bot.domain.incidents import JST, Counterparts, EventKind, TimelineEvent
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from cards.elements import Element, card, container, execute, heading, plain, text
from cards.i18n import t
from cards.tasks import task_checklist
from cards.verbs import Verb

MAX_TIMELINE = 30  # newest events shown on the detail card


def counterpart_text(counterparts: Counterparts, locale: Locale) -> str:
    """How the case names the harasser, briefly (the first identifier and how many more)."""
    c = counterparts
    names = [*c.emails, *c.sns_accounts, *c.domains, *c.urls]
    if not names:
        return t("cases.no_counterpart", locale)
    first = plain(names[0][:80])
    return f"{first} (+{len(names) - 1})" if len(names) > 1 else first


def case_list_card(page: CasePage, library: PlaybookLibrary, locale: Locale) -> Element:
    """One page of the case list with its filters and paging."""
    scope = t(f"cases.scope.{page.scope}", locale)
    body: list[Element] = [heading(t("cases.title", locale, scope=scope), size="Large")]
    if page.downgraded:
        body.append(text(t("cases.not_manager", locale), size="Small", subtle=True))
    filters = [
        execute(
            ("● " if f is page.filter else "") + t(f"cases.filter.{f}", locale),
            Verb.CASES_LIST,
            locale,
            scope=page.scope.value,
            filter=f.value,
            page=1,
        )
        for f in CaseFilter
    ]
    body.append({"type": "ActionSet", "actions": filters})
    body.append(
        text(
            t(
                "cases.showing",
                locale,
                filter=t(f"cases.filter.{page.filter}", locale),
                count=page.count,
                page=page.page,
                pages=page.pages,
            ),
            size="Small",
            subtle=True,
        )
    )
    if not page.rows:
        body.append(text(t("cases.none", locale)))
    body.extend(_row(row, library, locale) for row in page.rows)
    paging: list[Element] = []
    data = {"scope": page.scope.value, "filter": page.filter.value}
    if page.page > 1:
        paging.append(
            execute(t("cases.prev", locale), Verb.CASES_LIST, locale, page=page.page - 1, **data)
        )
    if page.page < page.pages:
        paging.append(
            execute(t("cases.next", locale), Verb.CASES_LIST, locale, page=page.page + 1, **data)
        )
    return card(body, paging or None)


def _row(row: CaseRow, library: PlaybookLibrary, locale: Locale) -> Element:
    incident = row.incident
    playbook = library.get(incident.type.value)
    kind = playbook.title(locale) if playbook else incident.type.value
    flag = "🚨 " if incident.physical_threat else ""
    line = t(
        "cases.line",
        locale,
        state=t(f"state.{incident.state}", locale),
        age=row.age_days,
        counterpart=counterpart_text(incident.counterparts, locale),
    )
    items: list[Element] = [
        text(f"{flag}**{incident.id}** {kind}", weight="Bolder"),
        text(line, size="Small", spacing="None"),
    ]
    if row.open_tasks:
        tasks = t("cases.tasks", locale, open=len(row.open_tasks))
        if row.overdue_tasks:
            tasks += t("cases.tasks.overdue", locale, overdue=row.overdue_tasks)
        names = "、".join(t(f"task.{task.kind.value}", locale) for task in row.open_tasks[:3])
        items.append(
            text(
                f"{tasks}: {names}",
                size="Small",
                spacing="None",
                color="Attention" if row.overdue_tasks else None,
            )
        )
    show = execute(
        t("cases.open", locale, id=incident.id), Verb.CASE_SHOW, locale, incident=incident.id
    )
    # A visible button as well as the tappable block: on a phone a block does not look tappable.
    items.append({"type": "ActionSet", "actions": [show], "spacing": "Small"})
    return container(items, separator=True, selectAction=show)


def case_detail_card(
    detail: CaseDetail, library: PlaybookLibrary, locale: Locale, *, today: dt.date
) -> Element:
    """The case's facts, tasks and timeline; managers also get the decision card and export."""
    incident = detail.incident
    playbook = library.get(incident.type.value)
    facts = [
        {"title": t("report.type", locale), "value": playbook.title(locale) if playbook else ""},
        {"title": t("esc.reporter", locale), "value": plain(incident.reporter.display_name) or "-"},
        {"title": t("esc.reported_at", locale), "value": _when(incident.created_at)},
        {"title": t("incident.state", locale), "value": t(f"state.{incident.state}", locale)},
        {
            "title": t("esc.counterpart", locale),
            "value": counterpart_text(incident.counterparts, locale),
        },
    ]
    body: list[Element] = [heading(t("case.title", locale, id=incident.id), size="Large")]
    if incident.physical_threat:
        body.append(
            container(
                [text("🚨 " + t("incident.threat", locale), weight="Bolder", color="Attention")],
                style="attention",
            )
        )
    summary = incident.summary[:600] + ("…" if len(incident.summary) > 600 else "")
    body += [{"type": "FactSet", "facts": facts}, text(plain(summary))]
    body.extend(
        task_checklist(
            detail.tasks,
            incident.id,
            locale,
            today=today,
            managers=detail.managers,
            actionable=detail.can_act,
            origin="detail",
        )
    )
    body.append(text(t("case.timeline", locale), weight="Bolder", separator=True))
    events = incident.timeline[-MAX_TIMELINE:]
    body.extend(_event(event, locale) for event in reversed(events))
    actions = [execute(t("cases.back", locale), Verb.CASES_LIST, locale)]
    if detail.can_act:
        actions.insert(
            0,
            execute(
                t("case.decide", locale), Verb.ESCALATION_REFRESH, locale, incident=incident.id
            ),
        )
        actions.append(
            execute(
                t("export.button", locale), Verb.ESCALATION_EXPORT, locale, incident=incident.id
            )
        )
    return card(body, actions)


def _event(event: TimelineEvent, locale: Locale) -> Element:
    if event.kind is EventKind.STATE_CHANGED and event.to_state is not None:
        what = "→ " + t(f"state.{event.to_state}", locale)
    else:
        what = t(f"case.event.{event.kind.value}", locale)
    line = f"{_when(event.at)} {plain(event.actor.display_name)}: {what}"
    items = [text(line, size="Small")]
    if event.note:
        note = event.note[:200] + ("…" if len(event.note) > 200 else "")
        items.append(text(plain(note), size="Small", subtle=True, spacing="None"))
    return container(items, spacing="Small")


def _when(at: dt.datetime) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M")


__all__ = ["Scope", "case_detail_card", "case_list_card"]
