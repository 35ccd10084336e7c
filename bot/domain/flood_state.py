"""What the flood watch remembers, and the port that keeps it (``FloodState``).

Per mailbox: whether it is watched, the delta position and the subscription. Per
(mailbox, sender): per-minute counts over the last day, and the alert (when announced,
silenced, the case started from it). Per message: its key, so that a message is counted
once even when a round is replayed after a restart or two rounds overlap.

A round's writes are what it brought: the new messages' keys, increments of the minutes
they fall in, the mailbox's position; never the whole state (``bot.store.flood``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.domain.flood import FloodFigures, MailboxTally, Sighting

ACTIVE, STOPPED = "active", "stopped"


@dataclass(frozen=True, slots=True)
class Subscription:
    """The mailbox's change-notification subscription and its secret ``clientState``."""

    id: str
    expires_at: dt.datetime
    client_state: str


@dataclass(frozen=True, slots=True)
class WatchState:
    """A mailbox's watch: status, delta position, last round, subscription."""

    status: str = ACTIVE
    reason: str = ""  # why it stopped: "scope" (Graph refused) or "removed" (unconfigured)
    stopped_at: dt.datetime | None = None
    cursor: str = ""  # the delta link to continue from ("" = start a new round)
    last_sync: dt.datetime | None = None
    subscription: Subscription | None = None

    @property
    def stopped(self) -> bool:
        """Whether the mailbox is no longer watched."""
        return self.status == STOPPED


@dataclass(frozen=True, slots=True)
class Alert:
    """What was announced about one sender in one mailbox, and what was decided."""

    id: str  # the card's alert id (also the idempotency key of the case it starts)
    at: dt.datetime
    figures: FloodFigures
    silenced_by: str = ""  # who clicked 「問題ない」
    case_id: str = ""  # the case started from it

    @property
    def silenced(self) -> bool:
        """Whether the mailbox's owner said the sender is fine."""
        return bool(self.silenced_by)


@dataclass(frozen=True, slots=True)
class RoundResult:
    """A recorded round: the senders it added mail for, with their counts of the last day."""

    changed: frozenset[str]
    tally: MailboxTally  # the changed senders' buckets only


class FloodState(Protocol):
    """Where the flood watch keeps its state (SQL tables; a memory fake for tests)."""

    async def watch_state(self, mailbox: str) -> WatchState:
        """The mailbox's watch (a fresh active one if never seen)."""
        ...

    async def watched(self) -> dict[str, WatchState]:
        """Every mailbox ever watched, by address."""
        ...

    async def record_round(
        self,
        mailbox: str,
        *,
        cursor: str,
        at: dt.datetime,
        sightings: Iterable[Sighting],
        internal: frozenset[str],
    ) -> RoundResult:
        """Count the round's new messages and keep its position, in one transaction.

        A message already counted (by key) is not counted again; what is a day old is
        forgotten. The mailbox becomes active.
        """
        ...

    async def set_subscription(self, mailbox: str, subscription: Subscription | None) -> None:
        """Keep (or forget, with None) the mailbox's subscription."""
        ...

    async def mailbox_of_subscription(self, subscription_id: str) -> tuple[str, str] | None:
        """``(mailbox, client_state)`` of a subscription, or None if unknown."""
        ...

    async def stop(self, mailbox: str, *, reason: str, at: dt.datetime) -> None:
        """Mark the mailbox stopped (position and subscription forgotten)."""
        ...

    async def restart(self, mailbox: str) -> None:
        """Watch a stopped mailbox again, from a new round."""
        ...

    async def alert(self, mailbox: str, sender: str) -> Alert | None:
        """The alert of ``sender`` in ``mailbox``, if any."""
        ...

    async def announce(self, mailbox: str, alert: Alert) -> None:
        """Record an alert before its card goes out (replacing an earlier announcement)."""
        ...

    async def silence(self, mailbox: str, sender: str, *, by: str) -> None:
        """The owner said ``sender`` is fine: no more cards about them in this mailbox."""
        ...

    async def link_case(self, mailbox: str, sender: str, case_id: str) -> None:
        """Remember the case started from the alert."""
        ...
