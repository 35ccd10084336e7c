"""The counterpart index: cases found by a counterpart key, on every backend.

The index is written with the case (same transaction) and backfilled by migration 0008
for the cases that existed before it, so an upgraded office links its old cases too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import text

from bot.domain.incidents import Counterparts, IncidentType
from bot.domain.linking import counterpart_keys
from bot.evidence.blobs import LocalBlobStore
from bot.store.engine import Engines
from bot.store.sql import SqlStore
from tests.store.backends import Backend, postgres_url
from tests.store.test_department_channels import engines, migrate_to
from tests.store.test_repository import ALICE, BOB, draft

__all__ = ["engines", "postgres_url"]  # fixtures

LONG_URL = "https://example.social/" + "a" * 400


async def test_cases_are_found_by_any_normalised_counterpart_key(backend: Backend) -> None:
    store = backend.store
    first = await store.create_incident(
        draft(counterparts=Counterparts(emails=("Angry+tag@Corp.Example",))), idempotency_key="1"
    )
    backend.clock.advance(minutes=1)
    second = await store.create_incident(
        draft(
            reporter=BOB,
            department="税務課",
            counterparts=Counterparts(emails=("angry@corp.example",), urls=(LONG_URL,)),
        ),
        idempotency_key="2",
    )
    backend.clock.advance(minutes=1)
    other = await store.create_incident(
        draft(counterparts=Counterparts(sns_accounts=("@Troll",))), idempotency_key="3"
    )
    backend.clock.advance(minutes=1)
    await store.create_incident(draft(counterparts=Counterparts()), idempotency_key="4")

    keys = counterpart_keys(first.counterparts)
    assert keys == {"email:angry@corp.example", "domain:corp.example"}
    assert [i.id for i in await store.cases_sharing(keys)] == [first.id, second.id]
    assert [i.id for i in await store.cases_sharing({"sns:@troll"})] == [other.id]
    # A URL longer than the column is kept as a hash and still found.
    long = counterpart_keys(Counterparts(urls=(LONG_URL,))) - {"domain:example.social"}
    assert [i.id for i in await store.cases_sharing(long)] == [second.id]
    assert await store.cases_sharing({"email:nobody@corp.example"}) == []
    assert await store.cases_sharing(set()) == []


async def test_free_mail_domains_are_indexed_but_only_asked_for_by_choice(
    backend: Backend,
) -> None:
    store = backend.store
    made = await store.create_incident(
        draft(counterparts=Counterparts(emails=("someone@gmail.com",), domains=("gmail.com",))),
        idempotency_key="g",
    )
    # The lookup leaves gmail.com out (counterpart_keys); the index does not need to.
    assert "domain:gmail.com" not in counterpart_keys(made.counterparts)
    assert [i.id for i in await store.cases_sharing({"domain:gmail.com"})] == [made.id]


async def test_the_migration_indexes_the_cases_already_there(
    engines: Engines, tmp_path: Path
) -> None:
    await migrate_to(engines, "0007")
    at = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC)
    async with engines.write.begin() as conn:
        for n, counterparts in enumerate(
            [
                {"emails": ["Kujou@Example.net"], "domains": ["example.net"]},
                {"emails": ["kujou+2@example.net"]},
                {"sns_accounts": ["https://twitter.com/Troll/status/1"]},
            ],
            start=1,
        ):
            await conn.execute(
                text(
                    "INSERT INTO incidents (id, year, number, type, state, department,"
                    " reporter_id, reporter_name, summary, counterparts, physical_threat,"
                    " created_at, idempotency_key) VALUES (:id, 2026, :n, :type, 'reported',"
                    " 'shimin', :who, '職員', '毎日', :cp, false, :at, :key)"
                ),
                {
                    "id": f"KH-2026-{n:04d}",
                    "n": n,
                    "type": str(IncidentType.MASS_EMAIL),
                    "who": ALICE.object_id,
                    "cp": json.dumps(counterparts),
                    "at": at + dt.timedelta(minutes=n),
                    "key": f"k{n}",
                },
            )
    await migrate_to(engines, "head")
    store = SqlStore(engines, blobs=LocalBlobStore(tmp_path / "blobs"))
    found = await store.cases_sharing({"email:kujou@example.net"})
    assert [i.id for i in found] == ["KH-2026-0001", "KH-2026-0002"]
    assert [i.id for i in await store.cases_sharing({"sns:x.com/troll"})] == ["KH-2026-0003"]
    assert [i.id for i in await store.cases_sharing({"domain:example.net"})] == [
        "KH-2026-0001",
        "KH-2026-0002",
    ]
