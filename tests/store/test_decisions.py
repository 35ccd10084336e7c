"""A decision is one unit of work: state change, decision row and approved jobs, or nothing.

The crash test cuts the transaction before each of its statements in turn (as a killed
process or a dropped connection would) and reads the case back from the database: the
case is undecided (no decision, no job, no draft, no reference number used) or decided
with all its jobs and its draft numbered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, event

from bot.domain.decisions import DecisionPlan, DecisionRecord, KeyedRecord, Numbered
from bot.domain.errors import InvalidTransition
from bot.domain.escalation import ActionKind, Decision
from bot.domain.incidents import Incident, IncidentState
from bot.domain.jobs import JobSpec
from bot.jobs.sql import SqlJobQueue
from bot.store.registry import MemoryRegistry, SqlRegistry
from bot.store.sql import SqlStore
from bot.store.tables import counters
from tests.store.backends import Backend, registries_as_instances
from tests.store.test_repository import ALICE, MANAGER, draft

ACTIONS = (ActionKind.MAIL_PROTECTION, ActionKind.CUTOFF_DECLARATION)
COUNTER = ("org-mail-ref", "decision-crash-test:20261202")


class Crash(Exception):
    """The process dies here."""


def approve(backend: Backend) -> Any:
    def plan(incident: Incident) -> DecisionPlan:
        return DecisionPlan(
            target=IncidentState.ACTIONS_APPROVED,
            note="approve",
            record=DecisionRecord(
                incident.id, Decision.APPROVE, MANAGER, backend.clock.now(), "ok", ACTIONS
            ),
            jobs=tuple(
                JobSpec(
                    kind="mail-protection" if k is ActionKind.MAIL_PROTECTION else "org-mail",
                    incident_id=incident.id,
                    params={"action": k.value},
                    idempotency_key=f"{incident.id}:{k.value}",
                )
                for k in ACTIONS
            ),
            # The draft of the approved mail, numbered in the same transaction.
            numbered=Numbered(
                *COUNTER,
                count=1,
                build=lambda numbers: (
                    KeyedRecord("org-mail-draft", f"{incident.id}:cutoff", {"n": numbers[0]}),
                ),
            ),
            records=(KeyedRecord("final-warning-skip", incident.id, {"reason": "r"}),),
        )

    return plan


async def escalated_case(store: SqlStore) -> Incident:
    incident = await store.create_incident(draft(), idempotency_key="k")
    return await store.transition(incident.id, IncidentState.ESCALATED, actor=ALICE)


async def what_was_written(
    store: SqlStore, queue: SqlJobQueue, registry: SqlRegistry, incident_id: str
) -> str:
    state = (await store.load_incident(incident_id)).state
    decision = await store.decision_of(incident_id)
    jobs = await queue.jobs_for_incident(incident_id)
    draft = await registry.get("org-mail-draft", f"{incident_id}:cutoff")
    skip = await registry.get("final-warning-skip", incident_id)
    # The next number tells how many were drawn (drawing it is not part of the decision).
    drawn = await registry.increment(*COUNTER) - 1
    nothing = decision is None and not jobs and draft is None and skip is None and drawn == 0
    if state is IncidentState.ESCALATED and nothing:
        return "undecided"
    if (
        state is IncidentState.ACTIONS_APPROVED
        and decision is not None
        and decision.actions == ACTIONS
        and sorted(j.params["action"] for j in jobs) == sorted(k.value for k in ACTIONS)
        and draft == {"n": 1}
        and skip == {"reason": "r"}
        and drawn == 1
    ):
        return "decided"
    return f"torn: {state} decision={decision} jobs={len(jobs)} draft={draft} drawn={drawn}"


async def test_a_crash_before_any_statement_leaves_the_case_whole(sql_backend: Backend) -> None:
    store = sql_backend.store
    assert isinstance(store, SqlStore)
    queue = SqlJobQueue(store._engines, clock=sql_backend.clock)
    registry = SqlRegistry(store._engines, clock=sql_backend.clock)
    incident = await escalated_case(store)
    sync_engine = store._engines.write.sync_engine
    crash_at = 0
    outcomes = []
    while True:
        crash_at += 1
        seen = 0

        def count(*_args: Any, _at: int = crash_at) -> None:
            nonlocal seen
            seen += 1
            if seen == _at:
                raise Crash

        event.listen(sync_engine, "before_cursor_execute", count)
        try:
            await store.decide(incident.id, approve(sql_backend), actor=MANAGER)
            crashed = False
        except Exception:  # Crash, wrapped or not by the driver layer
            crashed = True
        finally:
            event.remove(sync_engine, "before_cursor_execute", count)
        outcome = await what_was_written(store, queue, registry, incident.id)
        outcomes.append(outcome)
        if not crashed:
            break
        assert outcome == "undecided", (crash_at, outcome)
        # Undo the probe's own draw, so that the next attempt's number is 1 again.
        async with store._engines.write.begin() as conn:
            await conn.execute(delete(counters).where(counters.c.key == COUNTER[1]))
    assert outcomes[-1] == "decided"
    # hydrate, update, event, decision, jobs, number, records: each was cut once.
    assert crash_at >= 7
    # Decided once: a second decision is refused by the state machine, nothing is added.
    with pytest.raises(InvalidTransition):
        await store.decide(incident.id, approve(sql_backend), actor=MANAGER)
    assert len(await queue.jobs_for_incident(incident.id)) == len(ACTIONS)


async def test_concurrent_decisions_one_wins(sql_backend: Backend) -> None:
    store = sql_backend.store
    assert isinstance(store, SqlStore)
    incident = await escalated_case(store)
    results = await asyncio.gather(
        # Half reuse the case as their access check read it (re-checked under the lock).
        *(
            store.decide(
                incident.id, approve(sql_backend), actor=MANAGER, known=incident if i % 2 else None
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if r not in won)
    assert len(won[0].jobs) == len(ACTIONS)


async def test_concurrent_first_saves_of_a_registry_key_all_succeed(
    sql_backend: Backend,
) -> None:
    # Five instances saving the same keys at once.
    async with registries_as_instances(sql_backend, 5) as registries:
        await asyncio.gather(
            *(
                r.put("user", f"oid-{k}", {"n": i})
                for k in range(10)
                for i, r in enumerate(registries)
            )
        )
        saved = await registries[0].all("user")
        assert sorted(saved) == sorted(f"oid-{k}" for k in range(10))
        assert all(v["n"] in range(5) for v in saved.values())


async def test_counters_never_hand_out_a_number_twice_across_instances(
    sql_backend: Backend,
) -> None:
    # The organisation mails' daily reference: five instances each take ten numbers at once.
    async with registries_as_instances(sql_backend, 5) as registries:
        numbers = await asyncio.gather(
            *(r.increment("org-mail-ref", "総務課:20261202") for r in registries for _ in range(10))
        )
        assert sorted(numbers) == list(range(1, 51))
        assert await registries[0].increment("org-mail-ref", "総務課:20261203") == 1


async def test_registry_batches_read_and_write_what_single_calls_do(backend: Backend) -> None:
    # First contacts arriving together are registered in one read and one write.
    store = backend.store
    registry: SqlRegistry | MemoryRegistry
    if isinstance(store, SqlStore):
        url = store._engines.write.url.render_as_string(hide_password=False)
        registry = SqlRegistry.from_url(url)
    else:
        registry = MemoryRegistry()
    try:
        await registry.put("user", "oid-0", {"name": "before"})
        await registry.put_many(
            "user", {f"oid-{k}": {"name": f"花子 {k}", "n": k} for k in range(3)}
        )
        await registry.put_many("user", {})
        keys = [f"oid-{k}" for k in range(600)]  # more keys than one query binds
        found = await registry.get_many("user", keys)
        assert found == {f"oid-{k}": {"name": f"花子 {k}", "n": k} for k in range(3)}
        assert await registry.get("user", "oid-0") == {"name": "花子 0", "n": 0}
        assert await registry.get_many("thread", keys) == {}
    finally:
        await registry.close()


async def test_reads_in_one_block_share_one_connection_and_other_tasks_do_not(
    sql_backend: Backend,
) -> None:
    # Rendering a card reads the case, its decision and its jobs: one connection, one
    # transaction, instead of one of each per read.
    store = sql_backend.store
    assert isinstance(store, SqlStore)
    engines = store._engines
    queue = SqlJobQueue(engines, clock=sql_backend.clock)
    incident = await escalated_case(store)
    await store.decide(incident.id, approve(sql_backend), actor=MANAGER)
    begun = 0

    def begin(*_args: Any) -> None:
        nonlocal begun
        begun += 1

    event.listen(engines.read.sync_engine, "begin", begin)
    try:
        async with engines.reads():
            loaded = await store.load_incident(incident.id)
            decision = await store.decision_of(incident.id)
            jobs = await queue.jobs_for_incident(incident.id)
            async with engines.reads():  # nested: the same connection
                again = await store.load_incident(incident.id)
            # Concurrent reads run in tasks of their own, each on its own connection.
            both = await asyncio.gather(
                store.load_incident(incident.id), queue.jobs_for_incident(incident.id)
            )
        assert begun == 3  # the block's one, and one per concurrent task
        assert loaded == again == both[0]
        assert loaded.state is IncidentState.ACTIONS_APPROVED
        assert decision is not None and decision.actions == ACTIONS
        assert len(jobs) == len(both[1]) == len(ACTIONS)
        begun = 0
        await store.load_incident(incident.id)
        await store.decision_of(incident.id)
        assert begun == 2  # outside a block: a connection (and transaction) per read
    finally:
        event.remove(engines.read.sync_engine, "begin", begin)
