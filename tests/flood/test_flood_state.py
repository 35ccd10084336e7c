"""The flood watch's state on every backend: counted once, across restarts; small writes.

The same contract runs on the memory fake, SQLite and PostgreSQL. A "restart" is a new
state object (and a new watch) on the same database: what the previous process counted
is not counted again when Graph replays the round.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.domain.flood import (
    FeedReset,
    FeedRound,
    FeedSubscription,
    FloodFigures,
    FloodThresholds,
    Sighting,
    subject_hash,
)
from bot.domain.flood_state import Alert, FloodState, Subscription
from bot.flood.watch import FloodWatch, WatchedMailbox
from bot.store.engine import Engines
from bot.store.flood import MemoryFloodState, SqlFloodState
from bot.store.registry import MemoryRegistry, SqlRegistry
from tests.store.backends import fresh_engines, postgres_url
from tests.store.test_department_channels import engines, migrate_to

__all__ = ["engines", "postgres_url"]  # fixtures

MAILBOX = "tanaka@city.example.jp"
SENDER = "kujou@example.net"
NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
INTERNAL = frozenset({"city.example.jp"})


def mails(n: int, *, start: int = 0, sender: str = SENDER) -> list[Sighting]:
    """``n`` mails from ``sender``, a minute apart, the newest at NOW."""
    return [
        Sighting(
            f"msg-{sender}-{start + i}",
            sender,
            NOW - dt.timedelta(minutes=start + i),
            subject_hash(f"件名{start + i}"),
        )
        for i in range(n)
    ]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """None (memory), or migrated engines on a fresh SQLite file or PostgreSQL database."""
    if request.param == "memory":
        yield None
        return
    async for made in fresh_engines(request.param, tmp_path, request):
        await migrate_to(made, "head")
        yield made


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def sql_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engines]:
    """Migrated engines on a fresh SQLite file or PostgreSQL database (what writes count)."""
    async for made in fresh_engines(request.param, tmp_path, request):
        await migrate_to(made, "head")
        yield made


class States:
    """Makes the state as a process would at start: on the database, or the one fake."""

    def __init__(self, engines: Engines | None) -> None:
        self.engines = engines
        self._memory = MemoryFloodState()

    def new(self) -> FloodState:
        return SqlFloodState(self.engines) if self.engines is not None else self._memory


async def test_each_message_counts_once_replayed_out_of_order_or_after_a_restart(
    database: Engines | None,
) -> None:
    states = States(database)
    state = states.new()
    first = await state.record_round(
        MAILBOX, cursor="c1", at=NOW, sightings=list(reversed(mails(6))), internal=INTERNAL
    )
    assert first.changed == {SENDER}
    figures = first.tally.figures(SENDER, NOW)
    assert figures is not None and figures.last_hour == 6
    # The same round again (a replayed notification, a lost delta state): nothing new.
    again = await state.record_round(
        MAILBOX, cursor="c2", at=NOW, sightings=mails(6), internal=INTERNAL
    )
    assert again.changed == frozenset()
    # A restart: a new state object on the same database; Graph replays and adds 3.
    restarted = states.new()
    assert (await restarted.watch_state(MAILBOX)).cursor == "c2"
    later = await restarted.record_round(
        MAILBOX, cursor="c3", at=NOW, sightings=mails(9), internal=INTERNAL
    )
    counted = later.tally.figures(SENDER, NOW)
    assert counted is not None and (counted.last_hour, counted.last_day) == (9, 9)
    # Two rounds over the same mail at once (two instances) still count it once.
    both = await asyncio.gather(
        *(
            states.new().record_round(
                MAILBOX, cursor="c4", at=NOW, sightings=mails(12), internal=INTERNAL
            )
            for _ in range(2)
        )
    )
    assert sorted(len(r.changed) for r in both) == [0, 1]
    final = next(r for r in both if r.changed).tally.figures(SENDER, NOW)
    assert final is not None and final.last_hour == 12
    # A day later the counts are gone.
    tomorrow = NOW + dt.timedelta(days=1, minutes=30)
    gone = await states.new().record_round(
        MAILBOX, cursor="c5", at=tomorrow, sightings=mails(1, start=100), internal=INTERNAL
    )
    assert gone.changed == frozenset() and gone.tally.figures(SENDER, tomorrow) is None


async def test_a_round_writes_what_it_brought_not_the_whole_state(sql_database: Engines) -> None:
    database = sql_database
    state = SqlFloodState(database)
    await state.record_round(MAILBOX, cursor="c1", at=NOW, sightings=mails(500), internal=INTERNAL)
    written: list[tuple[str, int]] = []  # (verb and table, parameters bound)

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        words = statement.split()
        if words[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            table = words[1] if words[0].upper() == "UPDATE" else words[2]
            written.append((f"{words[0].upper()} {table}", len(params or ())))

    event.listen(database.write.sync_engine, "before_cursor_execute", seen)
    try:
        await state.record_round(
            MAILBOX, cursor="c2", at=NOW, sightings=mails(500), internal=INTERNAL
        )
        replayed = list(written)
        written.clear()
        await state.record_round(
            MAILBOX, cursor="c3", at=NOW, sightings=mails(2, start=600), internal=INTERNAL
        )
        two_new = list(written)
    finally:
        event.remove(database.write.sync_engine, "before_cursor_execute", seen)
    # Replayed mail: the keys are offered (and refused by the database), nothing counted.
    assert "INSERT flood_counts" not in {w for w, _ in replayed}
    # Two new mails: two keys, two per-minute rows, the mailbox's row: a few dozen values,
    # where rewriting the state would bind the 500 keys already counted.
    assert {w for w, _ in two_new} >= {"INSERT flood_seen", "INSERT flood_counts"}
    assert sum(n for _, n in two_new) < 60, two_new


async def test_subscriptions_stops_and_alerts_are_kept(database: Engines | None) -> None:
    states = States(database)
    state = states.new()
    sub = Subscription("sub-1", NOW + dt.timedelta(days=3), "secret")
    await state.set_subscription(MAILBOX, sub)
    assert await states.new().mailbox_of_subscription("sub-1") == (MAILBOX, "secret")
    assert (await states.new().watch_state(MAILBOX)).subscription == sub
    figures = FloodFigures(SENDER, 10, 10, 1, NOW, NOW, ("per_hour",))
    await state.announce(MAILBOX, Alert("a1", NOW, figures))
    await state.link_case(MAILBOX, SENDER, "KH-2026-0001")
    await state.silence(MAILBOX, SENDER, by="aad-tanaka")
    later = NOW + dt.timedelta(days=8)
    await state.announce(MAILBOX, Alert("a2", later, figures))
    alert = await states.new().alert(MAILBOX, SENDER)
    assert alert == Alert("a2", later, figures, "aad-tanaka", "KH-2026-0001")
    await state.stop(MAILBOX, reason="scope", at=NOW)
    stopped = await states.new().watch_state(MAILBOX)
    assert stopped.stopped and stopped.reason == "scope" and stopped.subscription is None
    assert await state.mailbox_of_subscription("sub-1") is None
    await state.restart(MAILBOX)
    assert not (await states.new().watched())[MAILBOX].stopped


class ReplayingFeed:
    """A mailbox's change feed that loses its delta state: the next round replays everything."""

    def __init__(self) -> None:
        self.inbox: list[Sighting] = []
        self.lost = False

    async def new_mail(self, mailbox: str, *, cursor: str | None, since: dt.datetime) -> FeedRound:
        if cursor is not None and self.lost:
            self.lost = False
            raise FeedReset("delta state lost")
        start = 0 if cursor is None else int(cursor)
        return FeedRound(self.inbox[start:], str(len(self.inbox)))

    async def subscribe(self, *_args: Any, **_kwargs: Any) -> FeedSubscription:
        raise AssertionError("no endpoint, no subscription")

    async def renew(self, *_args: Any, **_kwargs: Any) -> FeedSubscription:
        raise AssertionError("no endpoint, no subscription")

    async def unsubscribe(self, subscription_id: str) -> None:
        raise AssertionError("no endpoint, no subscription")


class Cards:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, _reference: dict[str, Any], card: dict[str, Any]) -> None:
        self.sent.append(card)

    async def create_thread(self, **kwargs: Any) -> None:
        self.sent.append(kwargs["card"])


class Clock:
    def now(self) -> dt.datetime:
        return NOW


async def test_a_watch_restarted_on_a_replayed_feed_announces_one_flood(
    database: Engines | None,
) -> None:
    states = States(database)
    feed = ReplayingFeed()
    registry = MemoryRegistry()
    await registry.put("user", "aad-tanaka", {"reference": {"locale": "ja"}})
    cards = Cards()

    def watch() -> FloodWatch:
        return FloodWatch(
            feed=feed,
            state=states.new(),
            registry=registry,
            sender=cards,
            clock=Clock(),
            mailboxes=[WatchedMailbox(MAILBOX, owner_id="aad-tanaka")],
            thresholds=FloodThresholds(per_day=20, per_hour=10, same_subject=5),
            endpoints=None,
        )

    feed.inbox = mails(6)
    assert await watch().sync(MAILBOX) == []
    # The process restarts and Graph lost the delta state: the whole inbox comes again.
    feed.inbox += mails(3, start=6)
    feed.lost = True
    assert await watch().sync(MAILBOX) == []  # 9 mails, not 15
    feed.inbox += mails(1, start=9)
    [flood] = await watch().sync(MAILBOX)
    assert flood.last_hour == 10 and len(cards.sent) == 1
    feed.lost = True
    assert await watch().sync(MAILBOX) == [] and len(cards.sent) == 1  # announced once


async def test_the_registry_records_move_into_the_tables(engines: Engines) -> None:
    await migrate_to(engines, "0009")
    old = SqlRegistry(engines)
    minute = int(NOW.timestamp() // 60)
    figures = FloodFigures(SENDER, 10, 10, 1, NOW, NOW, ("per_hour",))
    await old.put(
        "flood-watch",
        MAILBOX,
        {
            "cursor": "https://graph/delta?$deltatoken=1",
            "last_sync": NOW.isoformat(),
            "status": "active",
            "subscription": {
                "id": "sub-1",
                "expires": (NOW + dt.timedelta(days=3)).isoformat(),
                "client_state": "secret",
            },
            "tally": {
                "seen": {"k1": minute, "k2": minute},
                "buckets": {SENDER: {f"{minute}:h": 2}},
            },
        },
    )
    await old.put(
        "flood-alert",
        f"{MAILBOX}|{SENDER}",
        {
            "id": "a1",
            "at": NOW.isoformat(),
            "figures": figures.to_json(),
            "silenced": True,
            "by": "aad-tanaka",
            "case": "KH-2026-0001",
        },
    )
    await migrate_to(engines, "head")
    state = SqlFloodState(engines)
    watch = await state.watch_state(MAILBOX)
    assert watch.cursor.endswith("deltatoken=1") and watch.last_sync == NOW
    assert watch.subscription == Subscription("sub-1", NOW + dt.timedelta(days=3), "secret")
    assert await state.alert(MAILBOX, SENDER) == Alert(
        "a1", NOW, figures, "aad-tanaka", "KH-2026-0001"
    )
    # The counted keys came along: the same two messages are not counted again.
    replay = [Sighting("x", SENDER, NOW, "h")]
    result = await state.record_round(
        MAILBOX, cursor="c", at=NOW, sightings=replay, internal=INTERNAL
    )
    assert result.tally.figures(SENDER, NOW) is not None
    assert result.tally.figures(SENDER, NOW).last_hour == 3  # type: ignore[union-attr]
    assert await old.all("flood-watch") == {} and await old.all("flood-alert") == {}
