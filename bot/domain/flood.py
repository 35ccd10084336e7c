"""Flood detection: one external sender writing too much to one mailbox, from metadata only.

Mamoru sees, per new inbox message, the sender's address, the received time and a hash
of the subject (never the subject or the body themselves). ``MailboxTally`` keeps what
the rule needs for the last day, in per-minute buckets so that 10,000 mails an hour cost
kilobytes, and decides when a sender crosses a threshold. Everything here is plain
Python: the clock is passed in, the state is a JSON-able dict for the registry.

Order and repetition do not matter: a message is counted once (by id) at its received
time, so replayed or out-of-order notifications and overlapping delta rounds change
nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain.errors import DomainError

DAY_MINUTES = 24 * 60
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|返信|転送)\s*[:：]\s*)+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FloodThresholds:
    """When a sender counts as a flood (any one rule suffices)."""

    per_day: int = 20  # mails in the last 24 hours
    per_hour: int = 10  # mails in the last 60 minutes
    same_subject: int = 5  # mails with the same subject in the last 24 hours
    realert_days: int = 7  # a sender already reported is announced again after this long

    def __post_init__(self) -> None:
        for name in ("per_day", "per_hour", "same_subject", "realert_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"flood threshold {name} must be at least 1")


@dataclass(frozen=True, slots=True)
class Sighting:
    """One inbox message as flood detection sees it: no subject text, no body."""

    message_id: str
    sender: str  # normalised address
    received_at: dt.datetime
    subject_hash: str = ""


@dataclass(frozen=True, slots=True)
class FloodFigures:
    """What the card shows: how much one sender wrote, and which rules it crossed."""

    sender: str
    last_hour: int
    last_day: int
    same_subject: int
    first_at: dt.datetime
    last_at: dt.datetime
    rules: tuple[str, ...]  # "per_hour", "per_day", "same_subject"

    def to_json(self) -> dict[str, Any]:
        """The figures as card data / registry JSON."""
        return {
            "sender": self.sender,
            "last_hour": self.last_hour,
            "last_day": self.last_day,
            "same_subject": self.same_subject,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "rules": list(self.rules),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FloodFigures:
        """Figures read back from card data or the registry."""
        return cls(
            sender=normalise_address(str(data["sender"])),
            last_hour=int(data["last_hour"]),
            last_day=int(data["last_day"]),
            same_subject=int(data["same_subject"]),
            first_at=dt.datetime.fromisoformat(str(data["first_at"])),
            last_at=dt.datetime.fromisoformat(str(data["last_at"])),
            rules=tuple(str(r) for r in data.get("rules", ())),
        )


def normalise_address(address: str) -> str:
    """An email address as one key: trimmed, angle brackets off, lower case."""
    return address.strip().strip("<>").strip().lower()


def address_domain(address: str) -> str:
    """The domain part of an address ('' if none)."""
    return normalise_address(address).rpartition("@")[2] if "@" in address else ""


def subject_hash(subject: str) -> str:
    """A short hash of a subject, the same for 'Re: 至急' and '至急 ' (the text is not kept)."""
    text = unicodedata.normalize("NFKC", subject or "")
    text = _REPLY_PREFIX.sub("", text)
    text = _SPACES.sub(" ", text).strip().lower()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def message_key(message_id: str) -> str:
    """The key a message is counted under (ids are long; a 64-bit hash keeps 10,000 small)."""
    return hashlib.sha256(message_id.encode()).hexdigest()[:16]


def _minute(at: dt.datetime) -> int:
    return int(at.timestamp() // 60)


def oldest_minute(now: dt.datetime) -> int:
    """The first minute still counted at ``now`` (a day back)."""
    return _minute(now) - DAY_MINUTES


@dataclass(frozen=True, slots=True)
class Counted:
    """A message as the tally counts it: sender, minute received, subject hash."""

    sender: str
    minute: int
    subject: str


def countable(
    sightings: Iterable[Sighting], *, now: dt.datetime, internal: frozenset[str]
) -> dict[str, Counted]:
    """The sightings that count, by message key: external senders, the last day, once each.

    Whether a key was already counted before is the caller's (the tally's or the store's).
    """
    oldest = oldest_minute(now)
    out: dict[str, Counted] = {}
    for s in sightings:
        minute = _minute(s.received_at)
        sender = normalise_address(s.sender)
        if minute < oldest or not sender:
            continue
        if address_domain(sender) in internal:
            continue  # colleagues are not harassers; only external senders are counted
        out.setdefault(message_key(s.message_id), Counted(sender, minute, s.subject_hash))
    return out


@dataclass
class MailboxTally:
    """Per-minute counts per sender over the last day, and the ids already counted."""

    seen: dict[str, int] = field(default_factory=dict)  # message key -> minute
    # sender -> "minute:subject hash" -> count
    buckets: dict[str, dict[str, int]] = field(default_factory=dict)

    def observe(
        self, sightings: Iterable[Sighting], *, now: dt.datetime, internal: frozenset[str]
    ) -> set[str]:
        """Count new sightings (once each, last day only); returns the senders that changed."""
        changed: set[str] = set()
        for key, c in countable(sightings, now=now, internal=internal).items():
            if key in self.seen:
                continue
            self.seen[key] = c.minute
            self.add(c.sender, c.minute, c.subject, 1)
            changed.add(c.sender)
        self.prune(now)
        return changed

    def add(self, sender: str, minute: int, subject: str, count: int) -> None:
        """Add ``count`` mails of ``sender`` in ``minute`` with ``subject`` (a hash)."""
        bucket = self.buckets.setdefault(sender, {})
        slot = f"{minute}:{subject}"
        bucket[slot] = bucket.get(slot, 0) + count

    def prune(self, now: dt.datetime) -> None:
        """Forget what is older than a day."""
        oldest = oldest_minute(now)
        self.seen = {k: m for k, m in self.seen.items() if m >= oldest}
        for sender in list(self.buckets):
            kept = {s: c for s, c in self.buckets[sender].items() if int(s.split(":")[0]) >= oldest}
            if kept:
                self.buckets[sender] = kept
            else:
                del self.buckets[sender]

    def figures(self, sender: str, now: dt.datetime) -> FloodFigures | None:
        """The sender's counts now, or None if nothing is known of them."""
        bucket = self.buckets.get(normalise_address(sender))
        if not bucket:
            return None
        current = _minute(now)
        hour = day = 0
        subjects: dict[str, int] = {}
        minutes: list[int] = []
        for slot, count in bucket.items():
            minute_text, _, subject = slot.partition(":")
            minute = int(minute_text)
            if minute < current - DAY_MINUTES:
                continue
            day += count
            if minute > current - 60:
                hour += count
            if subject:
                subjects[subject] = subjects.get(subject, 0) + count
            minutes.append(minute)
        if not minutes:
            return None
        return FloodFigures(
            sender=normalise_address(sender),
            last_hour=hour,
            last_day=day,
            same_subject=max(subjects.values(), default=0),
            first_at=dt.datetime.fromtimestamp(min(minutes) * 60, dt.UTC),
            last_at=dt.datetime.fromtimestamp(max(minutes) * 60, dt.UTC),
            rules=(),
        )

    def to_json(self) -> dict[str, Any]:
        """The tally as a JSON object."""
        return {"seen": self.seen, "buckets": self.buckets}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MailboxTally:
        """A tally read back (an empty one for None)."""
        if not data:
            return cls()
        return cls(
            seen={str(k): int(v) for k, v in (data.get("seen") or {}).items()},
            buckets={
                str(s): {str(k): int(v) for k, v in b.items()}
                for s, b in (data.get("buckets") or {}).items()
            },
        )


def crossed(figures: FloodFigures, thresholds: FloodThresholds) -> FloodFigures | None:
    """The figures with the rules they cross, or None if the sender is below every threshold."""
    rules = tuple(
        name
        for name, value, limit in (
            ("per_hour", figures.last_hour, thresholds.per_hour),
            ("per_day", figures.last_day, thresholds.per_day),
            ("same_subject", figures.same_subject, thresholds.same_subject),
        )
        if value >= limit
    )
    if not rules:
        return None
    return FloodFigures(
        sender=figures.sender,
        last_hour=figures.last_hour,
        last_day=figures.last_day,
        same_subject=figures.same_subject,
        first_at=figures.first_at,
        last_at=figures.last_at,
        rules=rules,
    )


def floods(
    tally: MailboxTally, senders: Iterable[str], *, now: dt.datetime, thresholds: FloodThresholds
) -> list[FloodFigures]:
    """The senders among ``senders`` that are over a threshold now, by address."""
    out = []
    for sender in sorted(set(senders)):
        figures = tally.figures(sender, now)
        hit = crossed(figures, thresholds) if figures else None
        if hit is not None:
            out.append(hit)
    return out


def due_for_alert(
    last_alert: dt.datetime | None, *, now: dt.datetime, thresholds: FloodThresholds
) -> bool:
    """Whether a sender over a threshold should be announced (again) now."""
    return last_alert is None or now - last_alert >= dt.timedelta(days=thresholds.realert_days)


# --- The port: where new inbox mail comes from (Graph delta and subscriptions, or a fake).


class MailboxOutOfScope(DomainError):
    """Mamoru may no longer read this mailbox (it left the IT-defined scope, or is gone)."""


class FeedReset(DomainError):
    """The saved position in the mailbox's change feed is no longer valid: start again."""


class SubscriptionGone(DomainError):
    """The change-notification subscription no longer exists (expired or removed)."""


@dataclass(frozen=True, slots=True)
class FeedRound:
    """New mail since the last position, and the position to continue from."""

    sightings: list[Sighting]
    cursor: str
    requests: int = 1  # Graph requests the round took (pages)


@dataclass(frozen=True, slots=True)
class FeedSubscription:
    """A live change-notification subscription."""

    id: str
    expires_at: dt.datetime


class InboxFeed(Protocol):
    """New inbox mail of one mailbox, as metadata (sender, time, subject hash)."""

    async def new_mail(self, mailbox: str, *, cursor: str | None, since: dt.datetime) -> FeedRound:
        """Mail since ``cursor`` (None: since ``since``); ``FeedReset``, ``MailboxOutOfScope``."""
        ...

    async def subscribe(
        self,
        mailbox: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: dt.datetime,
    ) -> FeedSubscription:
        """Ask to be notified of new inbox mail; ``MailboxOutOfScope``."""
        ...

    async def renew(self, subscription_id: str, expires_at: dt.datetime) -> FeedSubscription:
        """Extend a subscription; ``SubscriptionGone`` if it has expired or was removed."""
        ...

    async def unsubscribe(self, subscription_id: str) -> None:
        """End a subscription (already gone is fine)."""
        ...
