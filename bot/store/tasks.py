"""Case tasks (``TaskRepository`` port) in the ``case_tasks`` table."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.tasks import CaseTask, TaskKind, TaskNotFound
from bot.store.engine import Engines
from bot.store.tables import case_tasks

_ORDER = (case_tasks.c.created_at, case_tasks.c.due, case_tasks.c.kind)


def task_values(task: CaseTask) -> dict[str, Any]:
    """The ``case_tasks`` row of ``task`` (also written by a decision's transaction)."""
    return {
        "incident_id": task.incident_id,
        "kind": task.kind.value,
        "owner_id": task.owner_id,
        "owner_name": task.owner_name,
        "due": task.due,
        "created_at": task.created_at,
        "done_at": task.done_at,
        "done_by": task.done_by,
    }


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _task(row: Any) -> CaseTask:
    created = _aware(row.created_at)
    assert created is not None
    return CaseTask(
        incident_id=row.incident_id,
        kind=TaskKind(row.kind),
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        due=row.due,
        created_at=created,
        done_at=_aware(row.done_at),
        done_by=row.done_by,
    )


class SqlTasks:
    """``TaskRepository`` on SQL."""

    def __init__(self, engines: Engines, *, write_lock: asyncio.Lock | None = None) -> None:
        self._engines = engines
        self._write_lock = write_lock or asyncio.Lock()

    async def add_tasks(self, tasks: Sequence[CaseTask]) -> list[CaseTask]:
        """Insert the tasks whose (case, kind) is new; returns those inserted."""
        added: list[CaseTask] = []
        for task in tasks:
            try:
                async with self._engines.transaction(self._write_lock) as conn:
                    await conn.execute(insert(case_tasks).values(**task_values(task)))
            except IntegrityError:
                continue  # approved twice or by two instances: the first one stays
            added.append(task)
        return added

    async def tasks_of(self, incident_id: str) -> list[CaseTask]:
        """The case's tasks, in the order created."""
        return (await self.tasks_of_many([incident_id])).get(incident_id, [])

    async def tasks_of_many(self, incident_ids: Sequence[str]) -> dict[str, list[CaseTask]]:
        """The tasks of several cases at once, by case id."""
        result: dict[str, list[CaseTask]] = {}
        if not incident_ids:
            return result
        query = (
            select(case_tasks)
            .where(case_tasks.c.incident_id.in_(list(incident_ids)))
            .order_by(*_ORDER)
        )
        async with self._engines.reading() as conn:
            for row in await conn.execute(query):
                task = _task(row)
                result.setdefault(task.incident_id, []).append(task)
        return result

    async def get_task(self, incident_id: str, kind: TaskKind) -> CaseTask:
        """The case's task ``kind``; raises ``TaskNotFound``."""
        query = select(case_tasks).where(
            case_tasks.c.incident_id == incident_id, case_tasks.c.kind == kind.value
        )
        async with self._engines.reading() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise TaskNotFound(incident_id, kind.value)
        return _task(row)

    async def save_task(self, task: CaseTask) -> None:
        """Store the task's owner and done fields; raises ``TaskNotFound``."""
        async with self._engines.transaction(self._write_lock) as conn:
            result = await conn.execute(
                update(case_tasks)
                .where(
                    case_tasks.c.incident_id == task.incident_id,
                    case_tasks.c.kind == task.kind.value,
                )
                .values(
                    owner_id=task.owner_id,
                    owner_name=task.owner_name,
                    done_at=task.done_at,
                    done_by=task.done_by,
                )
            )
        if result.rowcount == 0:
            raise TaskNotFound(task.incident_id, task.kind.value)

    async def open_overdue(self, today: dt.date) -> list[CaseTask]:
        """Every task not done whose due date is before ``today``."""
        query = (
            select(case_tasks)
            .where(and_(case_tasks.c.done_at.is_(None), case_tasks.c.due < today))
            .order_by(*_ORDER)
        )
        async with self._engines.reading() as conn:
            return [_task(row) for row in await conn.execute(query)]
