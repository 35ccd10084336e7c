"""The repository contract, run on every backend (memory fake, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest

from bot.domain.access import Role, Viewer
from bot.domain.errors import AccessDenied, IncidentNotFound, InvalidEvidence, InvalidTransition
from bot.domain.evidence import (
    EmailItem,
    EvidenceKind,
    NoteItem,
    decode,
    verify_chain,
)
from bot.domain.incidents import (
    Counterparts,
    IncidentDraft,
    IncidentState,
    IncidentType,
    Person,
)
from bot.domain.ports import EmailEvidence
from tests.store.backends import Backend

ALICE = Person("oid-alice", "佐藤 花子")
BOB = Person("oid-bob", "田中 太郎")
MANAGER = Person("oid-mgr", "課長")


def draft(**overrides: object) -> IncidentDraft:
    """A mass-email incident reported by Alice in 市民課."""
    values: dict[str, object] = {
        "type": IncidentType.MASS_EMAIL,
        "reporter": ALICE,
        "department": "市民課",
        "summary": "毎日同じ人から100通以上メールが来ます",
        "counterparts": Counterparts(emails=("x@example.jp",), domains=("example.jp",)),
        "physical_threat": True,
        "started_on": dt.date(2026, 11, 1),
    }
    values.update(overrides)
    return IncidentDraft(**values)  # type: ignore[arg-type]


def email(n: int) -> tuple[EmailEvidence, bytes]:
    """The n-th archived test email and its .eml bytes."""
    eml = f"Message-ID: <{n}@example.jp>\r\nSubject: test {n}\r\n\r\nbody {n}\r\n".encode()
    return (
        EmailEvidence(
            immutable_id=f"imm-{n}",
            internet_message_id=f"<{n}@example.jp>",
            received_at=dt.datetime(2026, 11, 20, 9, n % 60, tzinfo=dt.UTC),
            sender="x@example.jp",
            subject=f"件名 {n}",
            mime_sha256=hashlib.sha256(eml).hexdigest(),
            mailbox="alice@city.example.jp",
        ),
        eml,
    )


async def chain_report(backend: Backend, case_id: str):  # type: ignore[no-untyped-def]
    """Verify the case's chain as stored."""
    head = await backend.store.evidence_head(case_id)
    entries = [e async for e in backend.store.iter_evidence(case_id)]
    return verify_chain(case_id, entries, head)


async def test_create_opens_reported_incident_with_statement(backend: Backend) -> None:
    incident = await backend.store.create_incident(draft(), idempotency_key="k1")
    assert incident.id == "KH-2026-0001"
    assert incident.state is IncidentState.REPORTED
    assert incident.targets == (ALICE,)
    loaded = await backend.store.load_incident(incident.id)
    assert loaded == incident
    assert loaded.physical_threat and loaded.counterparts.emails == ("x@example.jp",)
    assert [e.kind for e in loaded.timeline] == ["reported"]
    entries = [e async for e in backend.store.iter_evidence(incident.id)]
    assert [e.kind for e in entries] == [EvidenceKind.STATEMENT]
    assert decode(entries[0]).item == NoteItem(draft().summary, statement=True)


async def test_ids_are_sequential_per_japanese_year(backend: Backend) -> None:
    first = await backend.store.create_incident(draft(), idempotency_key="a")
    second = await backend.store.create_incident(draft(), idempotency_key="b")
    backend.clock.current = dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC)  # 2027-01-01 JST
    third = await backend.store.create_incident(draft(), idempotency_key="c")
    assert [first.id, second.id, third.id] == ["KH-2026-0001", "KH-2026-0002", "KH-2027-0001"]


async def test_double_submit_makes_one_incident_and_no_gap(backend: Backend) -> None:
    results = await asyncio.gather(
        *(backend.store.create_incident(draft(), idempotency_key="same") for _ in range(5))
    )
    assert {r.id for r in results} == {"KH-2026-0001"}
    nxt = await backend.store.create_incident(draft(), idempotency_key="other")
    assert nxt.id == "KH-2026-0002"
    # Another reporter's key is theirs alone: same string, a new incident of their own.
    bobs = await backend.store.create_incident(draft(reporter=BOB), idempotency_key="same")
    assert bobs.id == "KH-2026-0003" and bobs.reporter == BOB
    legal = Viewer("oid-legal", frozenset({Role.LEGAL}))
    assert len(await backend.store.list_incidents(legal)) == 3


async def test_concurrent_creates_have_no_gaps(backend: Backend) -> None:
    results = await asyncio.gather(
        *(backend.store.create_incident(draft(), idempotency_key=f"k{i}") for i in range(20))
    )
    assert sorted(r.id for r in results) == [f"KH-2026-{n:04d}" for n in range(1, 21)]


async def test_unknown_incident(backend: Backend) -> None:
    with pytest.raises(IncidentNotFound):
        await backend.store.load_incident("KH-2026-9999")
    with pytest.raises(IncidentNotFound):
        await backend.store.evidence_head("KH-2026-9999")
    with pytest.raises(IncidentNotFound):
        await backend.store.append_evidence("KH-2026-9999", NoteItem("x"), recorded_by=ALICE)
    with pytest.raises(IncidentNotFound):
        await backend.store.recorded_email_ids("KH-2026-9999")


async def test_access_rule(backend: Backend) -> None:
    mine = await backend.store.create_incident(draft(targets=(ALICE, BOB)), idempotency_key="mine")
    other = await backend.store.create_incident(
        draft(reporter=MANAGER, department="税務課"), idempotency_key="other"
    )
    manager = Viewer(MANAGER.object_id, frozenset({Role.MANAGER}), frozenset({"市民課"}))
    stranger = Viewer("oid-stranger", frozenset({Role.STAFF}))
    not_manager = Viewer("oid-x", frozenset({Role.STAFF}), frozenset({"市民課"}))
    legal = Viewer("oid-legal", frozenset({Role.LEGAL}))
    for viewer in (Viewer(ALICE.object_id), Viewer(BOB.object_id), manager, legal):
        assert (await backend.store.get_incident(mine.id, viewer)).id == mine.id
    for viewer in (stranger, not_manager):
        with pytest.raises(AccessDenied):
            await backend.store.get_incident(mine.id, viewer)
    assert [i.id for i in await backend.store.list_incidents(Viewer(BOB.object_id))] == [mine.id]
    assert [i.id for i in await backend.store.list_incidents(stranger)] == []
    assert [i.id for i in await backend.store.list_incidents(not_manager)] == []
    assert {i.id for i in await backend.store.list_incidents(manager)} == {mine.id, other.id}
    assert [i.id for i in await backend.store.list_incidents(legal)] == [other.id, mine.id]


async def test_state_machine_is_enforced_and_recorded(backend: Backend) -> None:
    incident = await backend.store.create_incident(draft(), idempotency_key="k")
    with pytest.raises(InvalidTransition):
        await backend.store.transition(incident.id, IncidentState.CLOSED, actor=MANAGER)
    path = [
        IncidentState.ESCALATED,
        IncidentState.ACTIONS_APPROVED,
        IncidentState.IN_PROGRESS,
        IncidentState.MONITORING,
        IncidentState.CLOSED,
        IncidentState.REOPENED,
    ]
    for state in path:
        backend.clock.advance(minutes=1)
        await backend.store.transition(incident.id, state, actor=MANAGER, note=f"→ {state}")
    loaded = await backend.store.load_incident(incident.id)
    assert loaded.state is IncidentState.REOPENED
    assert [e.to_state for e in loaded.timeline] == [IncidentState.REPORTED, *path]
    assert loaded.timeline[-1].actor == MANAGER
    assert loaded.timeline[-1].at == backend.clock.now()


async def test_record_email_is_idempotent_and_chained(backend: Backend) -> None:
    incident = await backend.store.create_incident(draft(), idempotency_key="k")
    for n in range(3):
        item, eml = email(n)
        await backend.store.record_email(incident.id, item, eml)
        await backend.store.record_email(incident.id, item, eml)  # re-run: no duplicate
    assert await backend.store.recorded_email_ids(incident.id) == {"imm-0", "imm-1", "imm-2"}
    report = await chain_report(backend, incident.id)
    assert report.ok and report.count == 4
    entries = [e async for e in backend.store.iter_evidence(incident.id)]
    record = decode(entries[1])
    assert isinstance(record.item, EmailItem)
    assert await backend.blobs.read(record.item.mime_sha256) == email(0)[1]
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.seq async for e in backend.store.iter_evidence(incident.id, upto=2)] == [1, 2]


async def test_record_email_refuses_wrong_hash(backend: Backend) -> None:
    incident = await backend.store.create_incident(draft(), idempotency_key="k")
    item, _ = email(1)
    with pytest.raises(InvalidEvidence):
        await backend.store.record_email(incident.id, item, b"other bytes")
    assert (await backend.store.evidence_head(incident.id)).count == 1


async def test_concurrent_appends_make_one_valid_chain(backend: Backend) -> None:
    incident = await backend.store.create_incident(draft(), idempotency_key="k")

    async def writer(w: int) -> None:
        for n in range(10):
            await backend.store.append_evidence(
                incident.id, NoteItem(f"writer {w} note {n}"), recorded_by=BOB
            )

    await asyncio.gather(*(writer(w) for w in range(20)))
    report = await chain_report(backend, incident.id)
    assert report.ok, report.problem
    assert report.count == 201


async def test_batches_are_idempotent_and_all_or_nothing(backend: Backend) -> None:
    incident = await backend.store.create_incident(draft(), idempotency_key="k")
    await backend.store.record_email(incident.id, *email(0))
    batch = [email(n) for n in (0, 1, 2, 1)]  # 0 recorded before, 1 twice in the batch
    entries = await backend.store.record_emails(incident.id, batch)
    assert [e.seq for e in entries] == [2, 3, 4, 3]
    bad = EmailItem("imm-x", "<x>", dt.datetime.now(dt.UTC), "s", "s", "not-a-sha", "b")
    with pytest.raises(InvalidEvidence):
        await backend.store.append_many(incident.id, [NoteItem("ok"), bad], recorded_by=BOB)
    report = await chain_report(backend, incident.id)
    assert report.ok and report.count == 4
    assert await backend.store.recorded_email_ids(incident.id) == {"imm-0", "imm-1", "imm-2"}
