"""What Mamoru can count about a case, for proportionate proposals and the card's figures.

Mails from the counterpart in the targeted staff member's mailbox are counted with the
same Graph request mail protection makes (``GET /users/{id}/messages`` with
``$filter=from/emailAddress/address eq '…'`` and ``$select``; Mail.ReadWrite on the
mailboxes IT granted, nothing more). Counting never fails a card: an unreachable
mailbox gives "not counted". Figures are kept a few minutes, since every card view
needs them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter

from bot.domain.escalation import MailCounts
from bot.domain.incidents import JST, Incident
from bot.domain.mailbox import Mailbox, MailboxError, parse_sender
from bot.domain.ports import Clock, Registry

log = logging.getLogger(__name__)

USER = "user"  # bot.cases.escalation's registry kind for people (UPN, Teams id)
CACHE_FOR = dt.timedelta(minutes=5)
COUNT_TIMEOUT_SECONDS = 5.0  # a card never waits longer for the figures (Graph retries)


def count_mails(items_received: list[tuple[dt.datetime, str]]) -> MailCounts:
    """Counts from (arrival, sender name) pairs."""
    if not items_received:
        return MailCounts(total=0, days=1, peak_per_day=0)
    per_day = Counter(at.astimezone(JST).date() for at, _ in items_received)
    first, last = min(per_day), max(per_day)
    names = Counter(name.strip() for _, name in items_received if name.strip())
    return MailCounts(
        total=len(items_received),
        days=(last - first).days + 1,
        peak_per_day=max(per_day.values()),
        sender_name=names.most_common(1)[0][0] if names else "",
        latest_at=max(at for at, _ in items_received),
    )


class MailFacts:
    """Counts the counterpart's mails in the target's mailbox (cached briefly)."""

    def __init__(self, *, mailbox: Mailbox, registry: Registry, clock: Clock) -> None:
        self._mailbox = mailbox
        self._registry = registry
        self._clock = clock
        self._cache: dict[str, tuple[dt.datetime, MailCounts | None, list[dt.datetime]]] = {}

    async def counts(self, incident: Incident) -> MailCounts | None:
        """The counterpart's mails in the mailbox, or None (no address, or not reachable)."""
        return (await self._read(incident))[0]

    async def arrived_after(self, incident: Incident, at: dt.datetime) -> int:
        """How many of the counterpart's mails arrived after ``at`` (e.g. after the refusal)."""
        return sum(1 for received in (await self._read(incident))[1] if received > at)

    async def _read(self, incident: Incident) -> tuple[MailCounts | None, list[dt.datetime]]:
        now = self._clock.now()
        cached = self._cache.get(incident.id)
        if cached is not None and now - cached[0] < CACHE_FOR:
            return cached[1], cached[2]
        emails = incident.counterparts.emails
        if not emails:
            return None, []
        target = incident.targets[0] if incident.targets else incident.reporter
        record = await self._registry.get(USER, target.object_id) or {}
        mailbox = str(record.get("upn") or target.object_id)
        try:
            items = await asyncio.wait_for(
                self._mailbox.messages_from(mailbox, parse_sender(address=emails[0])),
                COUNT_TIMEOUT_SECONDS,
            )
        except (MailboxError, TimeoutError) as exc:
            log.info("incident %s: mails not counted (%s)", incident.id, type(exc).__name__)
            # Remembered too: an unreachable mailbox must not slow every card view.
            self._cache[incident.id] = (now, None, [])
            return None, []
        pairs = [(m.received_at, m.sender_name) for m in items]
        result = count_mails(pairs)
        arrivals = [at for at, _ in pairs]
        self._cache[incident.id] = (now, result, arrivals)
        return result, arrivals

    def forget(self, incident_id: str) -> None:
        """Count again next time (after a mail was sent, or on a manager's request)."""
        self._cache.pop(incident_id, None)
