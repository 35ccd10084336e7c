"""The notice outbox: a staff notice is stored before it is sent and reaches them once.

Contract tests of ``JobQueue.outbox_*`` on every backend, then ``StaffNotices`` on
SQLite and PostgreSQL with separate pools standing for separate instances: a sender
killed after taking a notice leaves it to the sweep, which sends it once after its
lease; several instances sweeping at once never send one notice twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, cast

import pytest

from bot.cases.staff_notices import USER, StaffNotices
from bot.domain.errors import InvalidJobSpec
from bot.domain.incidents import IncidentDraft, IncidentType, Person, open_incident
from bot.domain.jobs import NOTICE_GIVE_UP_AFTER, OutboxMessage
from bot.domain.ports import Store
from bot.store.registry import SqlRegistry
from bot.teams.messenger import Messenger
from cards.escalation import CaseView
from tests.jobs.conftest import QueueBackend

LEASE = dt.timedelta(seconds=60)
REPORTER = Person("staff-1", "Staff One")
INCIDENT = open_incident(
    IncidentDraft(IncidentType.MASS_EMAIL, REPORTER, "市民課", "s"),
    incident_id="KH-2026-0001",
    at=dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC),
)
REFERENCE = {
    "channelId": "msteams",
    "serviceUrl": "https://smba.example/jp/",
    "conversation": {"id": "a:personal-staff-1"},
    "bot": {"id": "mamoru"},
    "locale": "ja-JP",
}


def message(key: str = "notice:KH-2026-0001:esc.sent_to_managers") -> OutboxMessage:
    """A notice for the reporter of KH-2026-0001, in both languages."""
    return OutboxMessage(
        key, "KH-2026-0001", REPORTER.object_id, {"ja": {"t": "ja"}, "en": {"t": "en"}}
    )


# --- the queue's outbox, on memory, SQLite and PostgreSQL


async def test_a_key_is_stored_once_and_leased_to_whoever_stored_it(qb: QueueBackend) -> None:
    stored = await qb.queue.outbox_add(message(), "a", LEASE)
    assert stored is not None and (stored.lease_owner, stored.attempts) == ("a", 1)
    assert stored.cards == {"ja": {"t": "ja"}, "en": {"t": "en"}}
    assert await qb.queue.outbox_add(message(), "b", LEASE) is None  # news of it once
    assert await qb.queue.outbox_claim("b", LEASE) == []  # a's lease still runs
    assert await qb.queue.outbox_done(message().key, "b", "sent") is False
    assert await qb.queue.outbox_done(message().key, "a", "sent") is True
    qb.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await qb.queue.outbox_claim("b", LEASE) == []  # delivered: never again
    [row] = await qb.queue.outbox_for_incident("KH-2026-0001")
    assert (row.outcome, row.lease_owner) == ("sent", None)


async def test_a_dead_senders_notice_is_taken_after_its_lease(qb: QueueBackend) -> None:
    await qb.queue.outbox_add(message(), "dead", LEASE)
    qb.clock.advance(seconds=LEASE.total_seconds() - 1)
    assert await qb.queue.outbox_claim("b", LEASE) == []
    qb.clock.advance(seconds=2)
    [taken] = await qb.queue.outbox_claim("b", LEASE)
    assert (taken.key, taken.lease_owner, taken.attempts) == (message().key, "b", 2)
    # The dead sender, were it to come back, no longer holds it.
    assert await qb.queue.outbox_done(message().key, "dead", "sent") is False
    assert await qb.queue.outbox_done(message().key, "b", "sent") is True


async def test_a_failed_send_waits_before_it_is_tried_again(qb: QueueBackend) -> None:
    await qb.queue.outbox_add(message(), "a", LEASE)
    assert await qb.queue.outbox_retry(message().key, "a", dt.timedelta(seconds=30))
    assert await qb.queue.outbox_claim("b", LEASE) == []
    qb.clock.advance(seconds=31)
    assert [m.key for m in await qb.queue.outbox_claim("b", LEASE)] == [message().key]


async def test_concurrent_sweeps_take_each_notice_once(qb: QueueBackend) -> None:
    keys = [f"notice:KH-2026-0001:status:{n}" for n in range(30)]
    for key in keys:
        await qb.queue.outbox_add(message(key), "dead", LEASE)
    qb.clock.advance(seconds=LEASE.total_seconds() + 1)
    queues = [qb.another() for _ in range(4)]
    taken = await asyncio.gather(
        *(q.outbox_claim(f"w{n}", LEASE, limit=10) for n, q in enumerate(queues) for _ in (0, 1))
    )
    claimed = [m.key for batch in taken for m in batch]
    assert sorted(claimed) == sorted(keys)  # every one taken, none twice


def test_an_outbox_key_has_the_markers_limits() -> None:
    with pytest.raises(InvalidJobSpec):
        message("")
    with pytest.raises(InvalidJobSpec):
        message("n" * 201)


# --- StaffNotices on SQLite and PostgreSQL, instances as separate pools


class Killed(BaseException):
    """The process dies here (kill -9): nothing after it runs, no handler catches it."""


class RecordingMessenger:
    """The Bot Connector as the staff member sees it: every card that reached them."""

    def __init__(self, delivered: list[dict[str, Any]], *, die: bool = False) -> None:
        self.delivered = delivered
        self.die = die
        self.fail = 0  # how many sends fail (the connector answers 502)

    async def send(self, reference: dict[str, Any], card: dict[str, Any]) -> None:
        """Deliver ``card``, or die before it leaves, or fail like a connector outage."""
        if self.die:
            raise Killed
        if self.fail:
            self.fail -= 1
            raise ConnectionError("connector unavailable")
        self.delivered.append(card)


async def no_view(_incident: object) -> CaseView:
    raise AssertionError("not needed for a text notice")


class Instance:
    """One bot instance's notice pieces: its own pools on the shared database."""

    def __init__(self, sql_qb: QueueBackend, name: str, messenger: RecordingMessenger) -> None:
        assert sql_qb.url is not None
        self.queue = sql_qb.another()
        self.registry = SqlRegistry.from_url(sql_qb.url)
        self.notices = StaffNotices(
            store=cast(Store, object()),  # text notices read no case
            registry=self.registry,
            jobs=self.queue,
            messenger=cast(Messenger, messenger),
            view=no_view,
            owner=name,
        )

    async def close(self) -> None:
        await self.registry.close()


@pytest.fixture
async def instances(sql_qb: QueueBackend) -> Any:
    delivered: list[dict[str, Any]] = []
    made: list[Instance] = []

    def start(name: str, *, die: bool = False) -> Instance:
        instance = Instance(sql_qb, name, RecordingMessenger(delivered, die=die))
        made.append(instance)
        return instance

    first = start("setup")
    await first.registry.put(USER, REPORTER.object_id, {"reference": REFERENCE})
    yield start, delivered, sql_qb.clock
    for instance in made:
        await instance.close()


async def test_a_notice_whose_sender_died_is_sent_once_after_restart(instances: Any) -> None:
    start, delivered, clock = instances
    dying = start("a", die=True)
    with pytest.raises(Killed):
        await dying.notices.tell_staff_once(INCIDENT, "esc.sent_to_managers")
    assert delivered == []
    restarted = start("a-restarted")
    # The same event again (the escalation job runs again): stored already, not resent.
    await restarted.notices.tell_staff_once(INCIDENT, "esc.sent_to_managers")
    assert await restarted.notices.sweep() == 0  # the dead sender's lease still runs
    assert delivered == []
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await restarted.notices.sweep() == 1
    assert await restarted.notices.sweep() == 0
    clock.advance(hours=2)
    assert await restarted.notices.sweep() == 0
    assert len(delivered) == 1 and "上司のチャンネル" in str(delivered[0])
    [row] = await restarted.queue.outbox_for_incident(INCIDENT.id)
    assert (row.outcome, row.attempts) == ("sent", 2)


async def test_several_instances_never_send_one_notice_twice(instances: Any) -> None:
    start, delivered, clock = instances
    three = [start(name) for name in ("a", "b", "c")]
    # Every instance sees the same events (job changes, the sweep), all at once.
    await asyncio.gather(
        *(
            i.notices.tell_staff_once(INCIDENT, key)
            for i in three
            for key in ("esc.sent_to_managers", "esc.not_set_up.no_contact")
            for _ in (0, 1)
        )
    )
    clock.advance(seconds=LEASE.total_seconds() + 1)
    await asyncio.gather(*(i.notices.sweep() for i in three))
    assert len(delivered) == 2


async def test_a_connector_outage_delays_a_notice_without_losing_it(instances: Any) -> None:
    start, delivered, clock = instances
    instance = start("a")
    instance.notices._messenger.fail = 2
    await instance.notices.tell_staff_once(INCIDENT, "esc.sent_to_managers")
    assert delivered == []
    assert await instance.notices.sweep() == 0  # waiting 30 s before the next try
    clock.advance(seconds=31)
    assert await instance.notices.sweep() == 0  # failed again: 60 s now
    clock.advance(seconds=61)
    assert await instance.notices.sweep() == 1
    assert len(delivered) == 1
    assert NOTICE_GIVE_UP_AFTER > 2
