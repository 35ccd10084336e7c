"""The flood watch's state (``FloodState`` port) in its own tables, and in memory for tests.

A round is one transaction whose writes are what the round brought: the keys of its new
messages (``INSERT … ON CONFLICT DO NOTHING RETURNING``: only the keys really inserted
are counted, so a replayed round, or two instances reading the same round at once, count
each message once), one upsert per touched (sender, minute, subject), the expired rows
of this mailbox deleted, and the mailbox's row. The counts of the senders that changed
are read back for the rule. A round that brought nothing writes the mailbox's row only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.flood import (
    FloodFigures,
    MailboxTally,
    Sighting,
    countable,
    oldest_minute,
)
from bot.domain.flood_state import (
    ACTIVE,
    STOPPED,
    Alert,
    RoundResult,
    Subscription,
    WatchState,
)
from bot.store.engine import Engines, upsert_insert
from bot.store.job_rows import utc, utc_or_none
from bot.store.tables import flood_alerts, flood_counts, flood_mailboxes, flood_seen

_ROWS_PER_STATEMENT = 500  # keeps VALUES lists under every driver's parameter limit


def _watch(row: Any) -> WatchState:
    subscription = None
    if row.subscription_id and row.subscription_expires is not None:
        subscription = Subscription(
            row.subscription_id, utc(row.subscription_expires), row.client_state
        )
    return WatchState(
        status=row.status,
        reason=row.reason,
        stopped_at=utc_or_none(row.stopped_at),
        cursor=row.cursor,
        last_sync=utc_or_none(row.last_sync),
        subscription=subscription,
    )


def _chunks[T](items: list[T]) -> Iterable[list[T]]:
    for i in range(0, len(items), _ROWS_PER_STATEMENT):
        yield items[i : i + _ROWS_PER_STATEMENT]


class SqlFloodState:
    """``FloodState`` in ``flood_mailboxes``, ``flood_seen``, ``flood_counts``, ``flood_alerts``."""

    def __init__(self, engines: Engines, *, write_lock: asyncio.Lock | None = None) -> None:
        self._engines = engines
        # SQLite has one writer: share the store's lock rather than wait on the file lock.
        self._write_lock = write_lock or asyncio.Lock()

    async def watch_state(self, mailbox: str) -> WatchState:
        """The mailbox's watch (a fresh active one if never seen)."""
        async with self._engines.read.connect() as conn:
            row = (
                await conn.execute(
                    select(flood_mailboxes).where(flood_mailboxes.c.mailbox == mailbox)
                )
            ).one_or_none()
        return WatchState() if row is None else _watch(row)

    async def watched(self) -> dict[str, WatchState]:
        """Every mailbox ever watched."""
        async with self._engines.read.connect() as conn:
            rows = await conn.execute(select(flood_mailboxes))
            return {row.mailbox: _watch(row) for row in rows}

    async def _ensure(self, conn: AsyncConnection, mailbox: str) -> None:
        insert = upsert_insert(conn)
        await conn.execute(
            insert(flood_mailboxes)
            .values(mailbox=mailbox, status=ACTIVE, reason="", cursor="", client_state="")
            .on_conflict_do_nothing(index_elements=["mailbox"])
        )

    async def record_round(
        self,
        mailbox: str,
        *,
        cursor: str,
        at: dt.datetime,
        sightings: Iterable[Sighting],
        internal: frozenset[str],
    ) -> RoundResult:
        """Count the round's new messages and keep its position, in one transaction."""
        candidates = countable(sightings, now=at, internal=internal)
        oldest = oldest_minute(at)
        async with self._engines.transaction(self._write_lock) as conn:
            insert = upsert_insert(conn)
            fresh: list[str] = []
            rows = [
                {"mailbox": mailbox, "message_key": key, "minute": c.minute}
                for key, c in candidates.items()
            ]
            for chunk in _chunks(rows):
                inserted = await conn.execute(
                    insert(flood_seen)
                    .values(chunk)
                    .on_conflict_do_nothing(index_elements=["mailbox", "message_key"])
                    .returning(flood_seen.c.message_key)
                )
                fresh.extend(key for (key,) in inserted)
            increments = Counter(
                (candidates[k].sender, candidates[k].minute, candidates[k].subject) for k in fresh
            )
            counts = [
                {"mailbox": mailbox, "sender": s, "minute": m, "subject": h, "count": n}
                for (s, m, h), n in increments.items()
            ]
            for chunk in _chunks(counts):
                upsert = insert(flood_counts).values(chunk)
                await conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["mailbox", "sender", "minute", "subject"],
                        set_={"count": flood_counts.c.count + upsert.excluded["count"]},
                    )
                )
            for table in (flood_seen, flood_counts):
                await conn.execute(
                    delete(table).where(table.c.mailbox == mailbox, table.c.minute < oldest)
                )
            await self._ensure(conn, mailbox)
            await conn.execute(
                update(flood_mailboxes)
                .where(flood_mailboxes.c.mailbox == mailbox)
                .values(cursor=cursor, last_sync=at, status=ACTIVE, reason="", stopped_at=None)
            )
            changed = frozenset(s for s, _, _ in increments)
            tally = MailboxTally()
            if changed:
                buckets = await conn.execute(
                    select(
                        flood_counts.c.sender,
                        flood_counts.c.minute,
                        flood_counts.c.subject,
                        flood_counts.c.count,
                    ).where(
                        flood_counts.c.mailbox == mailbox,
                        flood_counts.c.sender.in_(sorted(changed)),
                        flood_counts.c.minute >= oldest,
                    )
                )
                for sender, minute, subject, count in buckets:
                    tally.add(sender, minute, subject, count)
        return RoundResult(changed, tally)

    async def set_subscription(self, mailbox: str, subscription: Subscription | None) -> None:
        """Keep (or forget) the mailbox's subscription."""
        values: dict[str, Any] = (
            {
                "subscription_id": subscription.id,
                "subscription_expires": subscription.expires_at,
                "client_state": subscription.client_state,
            }
            if subscription is not None
            else {"subscription_id": None, "subscription_expires": None, "client_state": ""}
        )
        async with self._engines.transaction(self._write_lock) as conn:
            await self._ensure(conn, mailbox)
            await conn.execute(
                update(flood_mailboxes).where(flood_mailboxes.c.mailbox == mailbox).values(values)
            )

    async def mailbox_of_subscription(self, subscription_id: str) -> tuple[str, str] | None:
        """``(mailbox, client_state)`` of a subscription, or None."""
        async with self._engines.read.connect() as conn:
            row = (
                await conn.execute(
                    select(flood_mailboxes.c.mailbox, flood_mailboxes.c.client_state).where(
                        flood_mailboxes.c.subscription_id == subscription_id
                    )
                )
            ).one_or_none()
        return None if row is None else (row.mailbox, row.client_state)

    async def stop(self, mailbox: str, *, reason: str, at: dt.datetime) -> None:
        """Mark the mailbox stopped; its position and subscription are forgotten."""
        async with self._engines.transaction(self._write_lock) as conn:
            await self._ensure(conn, mailbox)
            await conn.execute(
                update(flood_mailboxes)
                .where(flood_mailboxes.c.mailbox == mailbox)
                .values(
                    status=STOPPED,
                    reason=reason,
                    stopped_at=at,
                    cursor="",
                    subscription_id=None,
                    subscription_expires=None,
                    client_state="",
                )
            )

    async def restart(self, mailbox: str) -> None:
        """Watch the mailbox again, from a new round."""
        async with self._engines.transaction(self._write_lock) as conn:
            await conn.execute(
                update(flood_mailboxes)
                .where(flood_mailboxes.c.mailbox == mailbox)
                .values(status=ACTIVE, reason="", stopped_at=None, cursor="", last_sync=None)
            )

    async def alert(self, mailbox: str, sender: str) -> Alert | None:
        """The alert of ``sender`` in ``mailbox``."""
        async with self._engines.read.connect() as conn:
            row = (
                await conn.execute(
                    select(flood_alerts).where(
                        flood_alerts.c.mailbox == mailbox, flood_alerts.c.sender == sender
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return Alert(
            id=row.alert_id,
            at=utc(row.at),
            figures=FloodFigures.from_json(json.loads(row.figures)),
            silenced_by=row.silenced_by,
            case_id=row.case_id,
        )

    async def announce(self, mailbox: str, alert: Alert) -> None:
        """Record an alert (a re-announcement keeps who silenced and the case)."""
        values = {
            "alert_id": alert.id,
            "at": alert.at,
            "figures": json.dumps(alert.figures.to_json(), sort_keys=True),
        }
        async with self._engines.transaction(self._write_lock) as conn:
            upsert = upsert_insert(conn)(flood_alerts).values(
                mailbox=mailbox,
                sender=alert.figures.sender,
                silenced_by=alert.silenced_by,
                case_id=alert.case_id,
                **values,
            )
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["mailbox", "sender"],
                    set_={k: upsert.excluded[k] for k in values},
                )
            )

    async def silence(self, mailbox: str, sender: str, *, by: str) -> None:
        """No more cards about ``sender`` in ``mailbox``."""
        await self._update_alert(mailbox, sender, silenced_by=by)

    async def link_case(self, mailbox: str, sender: str, case_id: str) -> None:
        """Remember the case started from the alert."""
        await self._update_alert(mailbox, sender, case_id=case_id)

    async def _update_alert(self, mailbox: str, sender: str, **values: str) -> None:
        async with self._engines.transaction(self._write_lock) as conn:
            await conn.execute(
                update(flood_alerts)
                .where(flood_alerts.c.mailbox == mailbox, flood_alerts.c.sender == sender)
                .values(values)
            )


class MemoryFloodState:
    """``FloodState`` in dictionaries (tests, benchmarks), with the SQL state's semantics."""

    def __init__(self) -> None:
        self._watches: dict[str, WatchState] = {}
        self._tallies: dict[str, MailboxTally] = {}
        self._alerts: dict[tuple[str, str], Alert] = {}

    async def watch_state(self, mailbox: str) -> WatchState:
        """The mailbox's watch."""
        return self._watches.get(mailbox, WatchState())

    async def watched(self) -> dict[str, WatchState]:
        """Every mailbox ever watched."""
        return dict(self._watches)

    async def record_round(
        self,
        mailbox: str,
        *,
        cursor: str,
        at: dt.datetime,
        sightings: Iterable[Sighting],
        internal: frozenset[str],
    ) -> RoundResult:
        """Count the round's new messages and keep its position."""
        tally = self._tallies.setdefault(mailbox, MailboxTally())
        changed = frozenset(tally.observe(sightings, now=at, internal=internal))
        watch = self._watches.get(mailbox, WatchState())
        self._watches[mailbox] = WatchState(
            cursor=cursor, last_sync=at, subscription=watch.subscription
        )
        return RoundResult(changed, tally)

    async def set_subscription(self, mailbox: str, subscription: Subscription | None) -> None:
        """Keep (or forget) the mailbox's subscription."""
        watch = self._watches.get(mailbox, WatchState())
        self._watches[mailbox] = replace(watch, subscription=subscription)

    async def mailbox_of_subscription(self, subscription_id: str) -> tuple[str, str] | None:
        """``(mailbox, client_state)`` of a subscription."""
        for mailbox, watch in self._watches.items():
            if watch.subscription is not None and watch.subscription.id == subscription_id:
                return mailbox, watch.subscription.client_state
        return None

    async def stop(self, mailbox: str, *, reason: str, at: dt.datetime) -> None:
        """Mark the mailbox stopped."""
        last = self._watches.get(mailbox, WatchState()).last_sync
        self._watches[mailbox] = WatchState(STOPPED, reason, at, last_sync=last)

    async def restart(self, mailbox: str) -> None:
        """Watch the mailbox again, from a new round."""
        self._watches[mailbox] = WatchState()

    async def alert(self, mailbox: str, sender: str) -> Alert | None:
        """The alert of ``sender`` in ``mailbox``."""
        return self._alerts.get((mailbox, sender))

    async def announce(self, mailbox: str, alert: Alert) -> None:
        """Record an alert (a re-announcement keeps who silenced and the case)."""
        before = self._alerts.get((mailbox, alert.figures.sender))
        if before is not None:
            alert = replace(alert, silenced_by=before.silenced_by, case_id=before.case_id)
        self._alerts[(mailbox, alert.figures.sender)] = alert

    async def silence(self, mailbox: str, sender: str, *, by: str) -> None:
        """No more cards about ``sender`` in ``mailbox``."""
        before = self._alerts.get((mailbox, sender))
        if before is not None:
            self._alerts[(mailbox, sender)] = replace(before, silenced_by=by)

    async def link_case(self, mailbox: str, sender: str, case_id: str) -> None:
        """Remember the case started from the alert."""
        before = self._alerts.get((mailbox, sender))
        if before is not None:
            self._alerts[(mailbox, sender)] = replace(before, case_id=case_id)
