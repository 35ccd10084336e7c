"""Case tasks in their own table, on SQLite and PostgreSQL: one per case and kind, typed."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from bot.domain.incidents import IncidentDraft, IncidentType, Person
from bot.domain.tasks import TaskKind, TaskNotFound, tasks_for
from bot.store.sql import SqlStore
from bot.store.tasks import SqlTasks
from tests.store.backends import Backend

STAFF = Person("oid-staff", "田中 花子")
DRAFT = IncidentDraft(
    type=IncidentType.SNS_DEFAMATION, reporter=STAFF, department="d1", summary="Xで名指し"
)


async def test_tasks_are_added_once_assigned_done_and_found_when_overdue(
    sql_backend: Backend,
) -> None:
    store = sql_backend.store
    assert isinstance(store, SqlStore)
    tasks = SqlTasks(store._engines)
    incident = await store.create_incident(DRAFT, idempotency_key="tasks-0001")
    now = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    owner = {"owner_id": "m1", "owner_name": "山田 課長", "at": now, "today": now.date()}
    made = tasks_for(incident.id, "safety-measures", **owner)  # type: ignore[arg-type]
    # Two approvals racing (two instances): each task exists once.
    results = await asyncio.gather(tasks.add_tasks(made), tasks.add_tasks(made))
    assert sum(len(r) for r in results) == 3  # each inserted by exactly one of them
    stored = await tasks.tasks_of(incident.id)
    assert [t.kind for t in stored] == [t.kind for t in made]
    assert stored[0].created_at == now and stored[0].owner_name == "山田 課長"

    moved = (await tasks.get_task(incident.id, TaskKind.SAFE_COMMUTE)).assigned_to("m2", "佐藤")
    await tasks.save_task(moved)
    done = (await tasks.get_task(incident.id, TaskKind.OFF_COUNTER)).marked_done("佐藤", now)
    await tasks.save_task(done)
    assert done.marked_done("someone else", now + dt.timedelta(days=1)) is done  # first stays
    by_kind = {t.kind: t for t in await tasks.tasks_of(incident.id)}
    assert by_kind[TaskKind.SAFE_COMMUTE].owner_id == "m2"
    assert by_kind[TaskKind.OFF_COUNTER].done_at == now

    # Overdue: open and past due (off-counter is done, surname-tag is due in 3 days).
    later = now.date() + dt.timedelta(days=2)
    assert [t.kind for t in await tasks.open_overdue(later)] == [TaskKind.SAFE_COMMUTE]
    many = await tasks.tasks_of_many([incident.id, "KH-2026-9999"])
    assert list(many) == [incident.id] and len(many[incident.id]) == 3

    with pytest.raises(TaskNotFound):
        await tasks.get_task(incident.id, TaskKind.PHYSICIAN)
    with pytest.raises(TaskNotFound):
        await tasks.save_task(dataclasses.replace(moved, incident_id="KH-2026-9999"))
