"""Evidence domain: canonical JSON, the hash chain and its verifier."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest

from bot.domain.errors import InvalidEvidence
from bot.domain.evidence import (
    GENESIS_HASH,
    ChainHead,
    EmailItem,
    NoteItem,
    Screenshot,
    SealedEntry,
    SnsPostItem,
    canonical_json,
    decode,
    iso_utc,
    seal,
    verify_chain,
)
from bot.domain.incidents import JST, Person

AT = dt.datetime(2026, 11, 23, 10, 0, 0, 123, tzinfo=JST)
BY = Person("oid", "佐藤")
SHA = "a" * 64


def items() -> list[EmailItem | SnsPostItem | NoteItem]:
    """One item of each kind."""
    return [
        NoteItem("申述", statement=True),
        EmailItem("imm", "<m@x>", AT, "x@example.jp", "件名", SHA, "box"),
        SnsPostItem("https://s/1", "X", "@t", AT, None, "t", (Screenshot(SHA, "s.png"),)),
        NoteItem("メモ"),
    ]


def chain(case_id: str = "KH-2026-0001") -> list[SealedEntry]:
    """A sealed chain of ``items()``."""
    out: list[SealedEntry] = []
    prev = GENESIS_HASH
    for seq, item in enumerate(items(), start=1):
        entry = seal(case_id=case_id, seq=seq, prev_hash=prev, recorded_at=AT, recorded_by=BY,
                     item=item)  # fmt: skip
        out.append(entry)
        prev = entry.hash
    return out


def _edit_subject(entries: list[SealedEntry]) -> None:
    entries[1] = dataclasses.replace(entries[1], entry=entries[1].entry.replace("件名", "X"))


def test_canonical_json_is_documented_form() -> None:
    assert canonical_json({"b": 1, "a": "日本", "c": [True, None]}) == (
        '{"a":"日本","b":1,"c":[true,null]}'.encode()
    )
    with pytest.raises(InvalidEvidence):
        canonical_json({"a": 1.5})
    assert iso_utc(AT) == "2026-11-23T01:00:00.000123Z"
    with pytest.raises(InvalidEvidence):
        iso_utc(dt.datetime(2026, 1, 1))  # naive


def test_hash_is_sha256_of_prev_and_canonical_entry() -> None:
    first = chain()[0]
    expected = hashlib.sha256(GENESIS_HASH.encode() + first.entry.encode()).hexdigest()
    assert first.hash == expected
    document = json.loads(first.entry)
    assert document["seq"] == 1 and document["kind"] == "statement" and document["v"] == 1


def test_items_round_trip_and_bad_hash_is_refused() -> None:
    for entry, item in zip(chain(), items(), strict=True):
        record = decode(entry)
        assert record.item == item and record.recorded_by == BY
    with pytest.raises(InvalidEvidence):
        seal(case_id="c", seq=1, prev_hash=GENESIS_HASH, recorded_at=AT, recorded_by=BY,
             item=EmailItem("i", "m", AT, "s", "s", "XYZ", "b"))  # fmt: skip


def test_verify_accepts_intact_chain() -> None:
    entries = chain()
    report = verify_chain("KH-2026-0001", entries, ChainHead(4, entries[-1].hash))
    assert report.ok and report.count == 4 and report.head == entries[-1].hash


@pytest.mark.parametrize(
    ("mutate", "seq", "reason"),
    [
        (_edit_subject, 2, "hash does not match"),
        (lambda e: e.__setitem__(slice(1, 3), [e[2], e[1]]), 3, "expected entry 2"),
        (lambda e: e.pop(0), 2, "expected entry 1"),
        (lambda e: e.pop(), 4, "chain ends at entry 3"),
        (lambda e: e.__setitem__(2, dataclasses.replace(e[2], prev_hash=GENESIS_HASH)),
         3, "previous-hash link"),
        (lambda e: e.__setitem__(1, dataclasses.replace(e[1], dedup_key="other")),
         2, "idempotency key"),
    ],
)  # fmt: skip
def test_verify_names_first_broken_entry(mutate, seq: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    entries = chain()
    head = ChainHead(4, entries[-1].hash)
    mutate(entries)
    report = verify_chain("KH-2026-0001", entries, head)
    assert report.problem is not None
    assert report.problem.seq == seq and reason in report.problem.reason


def test_entries_of_another_case_are_refused() -> None:
    report = verify_chain("KH-2026-0002", chain("KH-2026-0001"))
    assert report.problem is not None and report.problem.seq == 1
