"""Organisational cases in their own tables, on SQLite and PostgreSQL.

A merge writes the membership rows and a note in every member's evidence chain together;
taking a member out keeps its row; a case is in one organisational case at a time. Two
organisational cases merge into the older one, which keeps a record of where the emptied
one's members went. The
first merge's registry records move into the tables with the migration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.domain.evidence import decode
from bot.domain.incidents import Counterparts, Incident, IncidentDraft, IncidentType, Person
from bot.domain.org_cases import MemberElsewhere, OrgCaseChanged, OrgCaseNotFound, parse_org_note
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.verify import verify_case
from bot.store.engine import Engines, create_engines
from bot.store.sql import SqlStore
from tests.store.backends import FakeClock, postgres_url
from tests.store.test_department_channels import engines, migrate_to

__all__ = ["engines", "postgres_url"]

KACHO = Person("oid-kacho", "高橋 課長")
INOUE = Person("oid-inoue", "井上 課長")
AT = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)


def draft(reporter: str) -> IncidentDraft:
    return IncidentDraft(
        IncidentType.MASS_EMAIL,
        Person(f"oid-{reporter}", reporter),
        "shimin",
        "毎日大量のメール",
        counterparts=Counterparts(emails=("angry@example.co.jp",)),
    )


def store_on(engines: Engines, tmp_path: Path) -> SqlStore:
    return SqlStore(engines, blobs=LocalBlobStore(tmp_path / "blobs"), clock=FakeClock(AT))


async def test_merge_and_remove_keep_history_and_every_chain(
    engines: Engines, tmp_path: Path
) -> None:
    await migrate_to(engines, "head")
    store = store_on(engines, tmp_path)
    blobs = LocalBlobStore(tmp_path / "blobs")
    cases = [await store.create_incident(draft(n), idempotency_key=n) for n in ("a", "b", "c")]
    first, second, third = cases

    org = await store.merge_cases("", [first, second], by=KACHO)
    assert org.id == f"ORG-{first.id}" and org.members == (first.id, second.id)
    assert await store.org_cases_of([first.id, second.id, third.id]) == {
        first.id: org.id,
        second.id: org.id,
    }
    # Again: nothing new, nothing appended.
    heads = [await store.evidence_head(c.id) for c in cases]
    assert (await store.merge_cases(org.id, [first, second], by=KACHO)).members == org.members
    assert [await store.evidence_head(c.id) for c in cases] == heads
    # A third case joins: every member's chain hears of it.
    org = await store.merge_cases(org.id, [first, second, third], by=KACHO)
    assert org.members == (first.id, second.id, third.id)
    for case in cases:
        last = [e async for e in store.iter_evidence(case.id)][-1]
        note = parse_org_note(decode(last).item.text)  # type: ignore[union-attr]
        assert note is not None and note.members == org.members
    # One organisational case at a time.
    with pytest.raises(MemberElsewhere):
        await store.merge_cases("", [second, third], by=KACHO)

    org = await store.remove_from_org_case(org.id, second.id, by=KACHO)
    assert org.members == (first.id, third.id)
    assert [m.incident_id for m in org.memberships] == [first.id, second.id, third.id]
    gone = org.memberships[1]
    assert gone.left_by == KACHO and gone.left_at == AT
    # Out of one, it may start another (named after its oldest member, suffixed if taken).
    alone = await store.create_incident(draft("d"), idempotency_key="d")
    other = await store.merge_cases("", [second, alone], by=KACHO)
    assert other.id == f"ORG-{second.id}"
    for case in (*cases, alone):
        assert (await verify_case(store, blobs, case.id)).ok
    with pytest.raises(OrgCaseNotFound):
        await store.get_org_case("ORG-KH-2026-0999")


async def test_registry_records_of_the_first_merge_move_into_the_tables(
    engines: Engines, tmp_path: Path
) -> None:
    await migrate_to(engines, "0008")
    store = store_on(engines, tmp_path)
    first = await store.create_incident(draft("a"), idempotency_key="a")
    second = await store.create_incident(draft("b"), idempotency_key="b")
    org_id = f"ORG-{first.id}"
    records = [
        ("org-case", org_id, {"members": [first.id, second.id], "by": "oid-kacho",
                              "by_name": "高橋 課長", "at": AT.isoformat()}),
        ("org-case", "ORG-KH-2026-0007", {"merged_into": org_id, "members": []}),
        ("org-member", first.id, {"org": org_id}),
        ("org-member", second.id, {"org": org_id}),
    ]  # fmt: skip
    async with engines.write.begin() as conn:
        for kind, key, value in records:
            await conn.execute(
                text("INSERT INTO registry (kind, key, value, updated_at) VALUES (:k, :y, :v, :u)"),
                {"k": kind, "y": key, "v": json.dumps(value), "u": AT},
            )
    await migrate_to(engines, "head")
    org = await store.get_org_case(org_id)
    assert org.members == (first.id, second.id)
    assert org.created_by == KACHO and org.created_at == AT
    with pytest.raises(OrgCaseNotFound):
        await store.get_org_case("ORG-KH-2026-0007")
    async with engines.read.connect() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM registry WHERE kind IN ('org-case', 'org-member')")
        )
    assert left == 0


async def test_concurrent_merges_and_removals_write_once(engines: Engines, tmp_path: Path) -> None:
    """Two instances merging the same cases at once (their own engines, so on PostgreSQL
    really concurrent): one organisational case, one note per chain; the same for removing."""
    await migrate_to(engines, "head")
    store = store_on(engines, tmp_path)
    other = SqlStore(
        create_engines(str(engines.write.url.render_as_string(hide_password=False))),
        blobs=LocalBlobStore(tmp_path / "blobs"),
        clock=FakeClock(AT),
    )
    try:
        first = await store.create_incident(draft("a"), idempotency_key="a")
        second = await store.create_incident(draft("b"), idempotency_key="b")
        heads = [await store.evidence_head(c.id) for c in (first, second)]
        outcomes = await asyncio.gather(
            store.merge_cases("", [first, second], by=KACHO),
            other.merge_cases("", [first, second], by=KACHO),
            return_exceptions=True,
        )
        made = [o for o in outcomes if not isinstance(o, BaseException)]
        assert made, outcomes
        # The loser either found the cases merged (same case) or was refused: never a second.
        assert all(isinstance(o, MemberElsewhere) for o in outcomes if o not in made)
        org = made[0]
        assert {o.id for o in made} == {org.id}
        for case, head in zip((first, second), heads, strict=True):
            assert (await store.evidence_head(case.id)).count == head.count + 1
        await asyncio.gather(
            store.remove_from_org_case(org.id, second.id, by=KACHO),
            other.remove_from_org_case(org.id, second.id, by=KACHO),
        )
        org = await store.get_org_case(org.id)
        assert org.members == (first.id,) and len(org.memberships) == 2
        for case, head in zip((first, second), heads, strict=True):
            assert (await store.evidence_head(case.id)).count == head.count + 2
    finally:
        await other.close()


async def two_organisational_cases(store: SqlStore) -> tuple[list[Incident], str, str]:
    """Four cases; the first two merged, then the last two (two departments' merges)."""
    cases = [await store.create_incident(draft(n), idempotency_key=n) for n in "abcd"]
    older = await store.merge_cases("", cases[:2], by=KACHO)
    younger = await store.merge_cases("", cases[2:], by=KACHO)
    return cases, older.id, younger.id


async def test_two_organisational_cases_merge_into_the_older_and_the_other_stays(
    engines: Engines, tmp_path: Path
) -> None:
    await migrate_to(engines, "head")
    store = store_on(engines, tmp_path)
    blobs = LocalBlobStore(tmp_path / "blobs")
    cases, older, younger = await two_organisational_cases(store)
    ids = [c.id for c in cases]
    before = {c: [e async for e in store.iter_evidence(c)] for c in ids}

    # Asked from the younger side, the older one stays.
    merged = await store.merge_org_cases(younger, older, ids, by=INOUE)
    assert merged.id == older and merged.members == tuple(ids)
    assert await store.org_cases_of(ids) == dict.fromkeys(ids, older)
    emptied = await store.get_org_case(younger)
    assert emptied.members == () and emptied.merged_into is not None
    assert emptied.merged_into.org_id == older and emptied.merged_into.by == INOUE
    assert emptied.merged_into.moved == (ids[2], ids[3])
    # Nothing deleted: the moved members' rows in the emptied one say who took them, when.
    assert [(m.incident_id, m.left_by) for m in emptied.memberships] == [
        (ids[2], INOUE),
        (ids[3], INOUE),
    ]
    assert (await store.get_org_case(older)).merged_into is None
    # Every member's chain got exactly one note, naming both organisational cases.
    for case_id in ids:
        after = [e async for e in store.iter_evidence(case_id)]
        assert after[:-1] == before[case_id]
        note = parse_org_note(decode(after[-1]).item.text)  # type: ignore[union-attr]
        assert note is not None and (note.org_id, note.from_org) == (older, younger)
        assert note.members == tuple(ids)
        assert (await verify_case(store, blobs, case_id)).ok

    # A repeated click changes nothing; a list that is not the members now is refused.
    heads = [await store.evidence_head(c) for c in ids]
    assert (await store.merge_org_cases(older, younger, ids, by=INOUE)).members == tuple(ids)
    with pytest.raises(OrgCaseChanged):
        await store.merge_org_cases(older, younger, ids[:3], by=INOUE)
    with pytest.raises(OrgCaseChanged):
        await store.merge_org_cases(older, older, ids, by=INOUE)
    assert [await store.evidence_head(c) for c in ids] == heads


async def test_a_stale_confirmation_merges_nothing(engines: Engines, tmp_path: Path) -> None:
    await migrate_to(engines, "head")
    store = store_on(engines, tmp_path)
    cases, older, younger = await two_organisational_cases(store)
    ids = [c.id for c in cases]
    await store.remove_from_org_case(younger, ids[3], by=KACHO)
    heads = [await store.evidence_head(c) for c in ids]
    with pytest.raises(OrgCaseChanged):  # the confirmation still listed the removed case
        await store.merge_org_cases(older, younger, ids, by=INOUE)
    assert [await store.evidence_head(c) for c in ids] == heads
    assert (await store.get_org_case(younger)).members == (ids[2],)


async def test_concurrent_merges_of_two_organisational_cases_write_once(
    engines: Engines, tmp_path: Path
) -> None:
    """Both sides ask at once (their own engines: on PostgreSQL really concurrent), one from
    each organisational case: one merge, one note per chain."""
    await migrate_to(engines, "head")
    store = store_on(engines, tmp_path)
    other = SqlStore(
        create_engines(str(engines.write.url.render_as_string(hide_password=False))),
        blobs=LocalBlobStore(tmp_path / "blobs"),
        clock=FakeClock(AT),
    )
    try:
        cases, older, younger = await two_organisational_cases(store)
        ids = [c.id for c in cases]
        heads = [await store.evidence_head(c) for c in ids]
        outcomes = await asyncio.gather(
            store.merge_org_cases(older, younger, ids, by=KACHO),
            other.merge_org_cases(younger, older, ids, by=INOUE),
        )
        assert {o.id for o in outcomes} == {older}
        for case_id, head in zip(ids, heads, strict=True):
            assert (await store.evidence_head(case_id)).count == head.count + 1
        merged = await store.get_org_case(older)
        assert merged.members == tuple(ids) and len(merged.memberships) == 4
    finally:
        await other.close()


async def test_a_merge_of_two_racing_a_removal_leaves_table_and_chains_agreeing(
    engines: Engines, tmp_path: Path
) -> None:
    """One instance merges the two organisational cases while another takes a member of the
    younger out: whichever goes first, the other sees the change (the merge is refused, or
    the removal finds the case no longer a member), and every chain says what the table says."""
    await migrate_to(engines, "head")
    store = store_on(engines, tmp_path)
    other = SqlStore(
        create_engines(str(engines.write.url.render_as_string(hide_password=False))),
        blobs=LocalBlobStore(tmp_path / "blobs"),
        clock=FakeClock(AT),
    )
    blobs = LocalBlobStore(tmp_path / "blobs")
    try:
        cases, older, younger = await two_organisational_cases(store)
        ids = [c.id for c in cases]
        merged, _ = await asyncio.gather(
            store.merge_org_cases(older, younger, ids, by=INOUE),
            other.remove_from_org_case(younger, ids[3], by=KACHO),
            return_exceptions=True,
        )
        now = await store.org_cases_of(ids)
        if isinstance(merged, OrgCaseChanged):  # the removal went first
            assert now == {ids[0]: older, ids[1]: older, ids[2]: younger}
            assert (await store.get_org_case(younger)).merged_into is None
        else:
            assert not isinstance(merged, BaseException), merged
            assert now == dict.fromkeys(ids, older)
        for case_id in ids:
            last = [e async for e in store.iter_evidence(case_id)][-1]
            note = parse_org_note(decode(last).item.text)  # type: ignore[union-attr]
            assert note is not None
            if case_id in now:
                assert note.org_id == now[case_id] and case_id in note.members
            else:
                assert note.action == "removed" and case_id not in note.members
            assert (await verify_case(store, blobs, case_id)).ok
    finally:
        await other.close()
