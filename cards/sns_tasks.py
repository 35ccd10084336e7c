"""The safety and care checklist on a case's thread card: owner, due date, done."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.incidents import JST
from bot.domain.locale import Locale
from bot.domain.sns import CareTask
from cards.elements import Element, container, execute, text
from cards.i18n import t
from cards.verbs import Verb


def task_checklist(tasks: Sequence[CareTask], incident_id: str, locale: Locale) -> list[Element]:
    """The checklist items, each with its owner, due date and a "done" button while open."""
    if not tasks:
        return []
    items: list[Element] = [text(t("sns.tasks.title", locale), weight="Bolder", separator=True)]
    for task in tasks:
        label = t(f"sns.task.{task.kind.value}", locale)
        if task.done_at is not None:
            when = task.done_at.astimezone(JST).strftime("%Y-%m-%d")
            line = "☑ " + t("sns.tasks.done", locale, task=label, by=task.done_by, at=when)
            items.append(text(line, subtle=True))
            continue
        line = "☐ " + t(
            "sns.tasks.open", locale, task=label, owner=task.owner_name, due=task.due.isoformat()
        )
        items.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [text(line)]},
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    execute(
                                        t("sns.tasks.mark", locale),
                                        Verb.SNS_TASK_DONE,
                                        locale,
                                        incident=incident_id,
                                        task=task.kind.value,
                                    )
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    return [container(items)]
