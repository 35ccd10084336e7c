"""A case's tasks on its cards (thread card and case detail): owner, due date, done.

One element for both places, so a task reads the same wherever a manager sees it:
open tasks with their owner and due date (overdue ones flagged), a "done" button,
and, where the managers to choose from are given, a way to hand the task over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.domain.incidents import JST, Person
from bot.domain.locale import Locale
from bot.domain.tasks import CaseTask
from cards.elements import Element, container, execute, plain, show_card, text
from cards.i18n import t
from cards.verbs import Verb


def task_label(task: CaseTask, locale: Locale) -> str:
    """What the task asks for, in ``locale``."""
    return t(f"task.{task.kind.value}", locale)


def task_checklist(
    tasks: Sequence[CaseTask],
    incident_id: str,
    locale: Locale,
    *,
    today: dt.date,
    managers: Sequence[Person] = (),
    actionable: bool = True,
    origin: str = "thread",
) -> list[Element]:
    """The case's tasks; open ones carry "done" (and "change owner" if ``managers``)."""
    if not tasks:
        return []
    items: list[Element] = [text(t("tasks.title", locale), weight="Bolder", separator=True)]
    for task in tasks:
        label = task_label(task, locale)
        if task.done_at is not None:
            when = task.done_at.astimezone(JST).strftime("%Y-%m-%d")
            line = "☑ " + t("tasks.done", locale, task=label, by=plain(task.done_by), at=when)
            items.append(text(line, subtle=True))
            continue
        key = "tasks.overdue" if task.overdue(today) else "tasks.open"
        owner = plain(task.owner_name)
        line = "☐ " + t(key, locale, task=label, owner=owner, due=task.due.isoformat())
        color = "Attention" if task.overdue(today) else None
        if not actionable:
            items.append(text(line, color=color))
            continue
        # ``origin``: the card a click answers with (the thread's card or the case detail).
        data = {"incident": incident_id, "task": task.kind.value, "origin": origin}
        buttons = [execute(t("tasks.mark", locale), Verb.TASK_DONE, locale, **data)]
        others = [m for m in managers if m.object_id != task.owner_id]
        if others:
            buttons.append(_assign(others, data, locale))
        items.append(text(line, color=color))
        items.append({"type": "ActionSet", "actions": buttons, "spacing": "Small"})
    return [container(items)]


def _assign(managers: Sequence[Person], data: dict[str, str], locale: Locale) -> Element:
    choice = {
        "type": "Input.ChoiceSet",
        "id": "owner",
        "label": t("tasks.assign.to", locale),
        "isRequired": True,
        "choices": [{"title": m.display_name, "value": m.object_id} for m in managers[:50]],
    }
    submit = execute(t("tasks.assign.submit", locale), Verb.TASK_ASSIGN, locale, **data)
    shown = show_card(t("tasks.assign", locale), [choice])
    shown["card"]["actions"] = [submit]
    return shown
