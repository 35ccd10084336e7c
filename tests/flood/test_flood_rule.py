"""The detection rule: thresholds, each message counted once, order and age, colleagues."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.flood import (
    FloodFigures,
    FloodThresholds,
    MailboxTally,
    Sighting,
    due_for_alert,
    floods,
    subject_hash,
)

NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
RULES = FloodThresholds(per_day=20, per_hour=10, same_subject=5)
INTERNAL = frozenset({"city.example.jp"})


def mails(
    n: int,
    *,
    sender: str = "kujou@example.net",
    minutes_apart: float = 1.0,
    subject: str = "",
    start: int = 0,
) -> list[Sighting]:
    return [
        Sighting(
            message_id=f"id-{sender}-{start + i}",
            sender=sender,
            received_at=NOW - dt.timedelta(minutes=minutes_apart * i),
            subject_hash=subject_hash(subject or f"件名{start + i}"),
        )
        for i in range(n)
    ]


def detect(
    tally: MailboxTally, batch: list[Sighting], now: dt.datetime = NOW
) -> list[FloodFigures]:
    changed = tally.observe(batch, now=now, internal=INTERNAL)
    return floods(tally, changed, now=now, thresholds=RULES)


def test_ten_in_an_hour_is_a_flood_nine_is_not() -> None:
    assert detect(MailboxTally(), mails(9)) == []
    [hit] = detect(MailboxTally(), mails(10))
    assert (hit.sender, hit.last_hour, hit.last_day, hit.rules) == (
        "kujou@example.net",
        10,
        10,
        ("per_hour",),
    )


def test_twenty_in_a_day_spread_out_crosses_the_daily_rule_only() -> None:
    [hit] = detect(MailboxTally(), mails(20, minutes_apart=70))
    assert hit.rules == ("per_day",)
    assert hit.last_hour == 1 and hit.last_day == 20


def test_same_subject_five_times_even_slowly_and_reply_prefixes_do_not_hide_it() -> None:
    batch = [
        Sighting(
            f"m{i}",
            "a@example.org",
            NOW - dt.timedelta(hours=3 * i),
            subject_hash(["至急回答しろ", "Re: 至急回答しろ", "RE：至急回答しろ "][i % 3]),
        )
        for i in range(5)
    ]
    [hit] = detect(MailboxTally(), batch)
    assert hit.rules == ("same_subject",) and hit.same_subject == 5


def test_replayed_and_out_of_order_sightings_count_once() -> None:
    tally = MailboxTally()
    batch = mails(6)
    assert detect(tally, list(reversed(batch))) == []
    assert detect(tally, batch + batch) == []  # replayed: still 6
    [hit] = detect(tally, mails(4, start=6))
    assert hit.last_hour == 10


def test_mail_older_than_a_day_and_colleagues_are_not_counted() -> None:
    old = [Sighting("old", "x@example.net", NOW - dt.timedelta(days=2), "h")] * 30
    colleagues = mails(30, sender="somu@city.example.jp")
    assert detect(MailboxTally(), old + colleagues) == []


def test_the_tally_forgets_what_is_a_day_old_and_survives_json() -> None:
    tally = MailboxTally()
    detect(tally, mails(15))
    restored = MailboxTally.from_json(tally.to_json())
    later = NOW + dt.timedelta(days=1, minutes=30)
    restored.prune(later)
    assert restored.figures("kujou@example.net", later) is None
    assert restored.seen == {}


def test_ten_thousand_mails_an_hour_stay_small() -> None:
    tally = MailboxTally()
    batch = mails(10_000, minutes_apart=0.0059, subject="同じ件名")
    [hit] = detect(tally, batch)
    assert hit.last_hour == 10_000 and hit.same_subject == 10_000
    assert len(tally.buckets["kujou@example.net"]) <= 61  # per-minute buckets, not per mail


def test_realert_only_after_the_configured_days() -> None:
    assert due_for_alert(None, now=NOW, thresholds=RULES)
    assert not due_for_alert(NOW - dt.timedelta(days=6), now=NOW, thresholds=RULES)
    assert due_for_alert(NOW - dt.timedelta(days=7), now=NOW, thresholds=RULES)


def test_thresholds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_hour"):
        FloodThresholds(per_hour=0)
