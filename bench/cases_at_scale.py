"""Benchmark (not a test): linked cases and the organisation's figures with many cases.

Seeds 1,000 and 10,000 cases over one fiscal year into a fresh database (SQLite in a
temporary folder, or ``--postgres URL``: an empty database the script migrates), then
measures, with every SQL statement counted:

- (a) the linked-cases block of the managers' card (``OrgCasesService.summary`` for a
  manager, the average of 20 cases);
- (b) ``mamoru report org`` for the year (``OrgFiguresService.figures``).

Each address appears in about four cases, a third of them at a free-mail domain; every
10th case has a preserved mail, every 5th a task, every 20th a finished protection job.

    .venv/bin/python bench/cases_at_scale.py                   # 1,000 and 10,000
    .venv/bin/python bench/cases_at_scale.py --cases 1000
    .venv/bin/python bench/cases_at_scale.py --postgres postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bot.app import Persistence, build_persistence
from bot.cases.figures import OrgFiguresService
from bot.cases.linked import LinkedCasesService
from bot.cases.org_cases import OrgCasesService
from bot.config import Settings
from bot.domain.access import Role, Viewer
from bot.domain.incidents import (
    JST,
    Counterparts,
    IncidentDraft,
    IncidentState,
    IncidentType,
    Person,
)
from bot.domain.jobs import JobSpec
from bot.domain.ports import EmailEvidence
from bot.domain.tasks import CaseTask, TaskKind
from bot.store import migrate
from tests.support.dbcount import Counter, counting

START = dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST).astimezone(dt.UTC)
DEPARTMENTS = [f"dept{n}" for n in range(8)]
BOSS = Person("aad-boss", "課長")
TYPES = list(IncidentType)


class Clock:
    """The seeding clock, moved by hand."""

    def __init__(self) -> None:
        self.at = START

    def now(self) -> dt.datetime:
        return self.at


def counterparts_of(i: int, n: int) -> Counterparts:
    k = i % max(n // 4, 1)  # each counterpart in about four cases
    if k % 3 == 0:
        return Counterparts(emails=(f"person{k}@gmail.com",), domains=("gmail.com",))
    if k % 7 == 0:
        return Counterparts(sns_accounts=(f"@troll{k}",))
    return Counterparts(emails=(f"person{k}@corp{k % 50}.example",), domains=())


async def seed(persistence: Persistence, clock: Clock, n: int) -> list[str]:
    """``n`` cases spread over the fiscal year, a third decided; returns their ids."""
    store = persistence.store
    ids = []
    step = dt.timedelta(days=364) / n
    for i in range(n):
        clock.at = START + step * i
        incident = await store.create_incident(
            IncidentDraft(
                type=TYPES[i % len(TYPES)],
                reporter=Person(f"aad-staff-{i % 300}", f"職員{i % 300}"),
                department=DEPARTMENTS[i % len(DEPARTMENTS)],
                summary="毎日大量のメール",
                counterparts=counterparts_of(i, n),
            ),
            idempotency_key=f"bench-{i}",
        )
        ids.append(incident.id)
        if i % 3 == 0:
            await store.transition(incident.id, IncidentState.ESCALATED, actor=incident.reporter)
            clock.at += dt.timedelta(hours=2 + i % 24)
            await store.transition(incident.id, IncidentState.ACTIONS_APPROVED, actor=BOSS)
        if i % 10 == 0:
            eml = f"From: x\r\nMessage-ID: <{i}@x>\r\n\r\nbody".encode()
            item = EmailEvidence(
                f"imm-{i}",
                f"<{i}@x>",
                clock.at,
                "x@example.net",
                "件名",
                hashlib.sha256(eml).hexdigest(),
                "tanaka@city.example.jp",
            )
            await store.record_email(incident.id, item, eml)
        if i % 5 == 0:
            due = (clock.at + dt.timedelta(days=14)).date()
            await persistence.tasks.add_tasks(
                [
                    CaseTask(
                        incident.id, TaskKind.POLICE_CONSULTATION, "aad-boss", "課長", due, clock.at
                    )
                ]
            )
        if i % 20 == 0:
            spec = JobSpec("mail-protection", incident.id, {}, f"{incident.id}:mail-protection")
            job = await persistence.jobs.enqueue(spec)
            clock.at += dt.timedelta(hours=1)
            claimed = await persistence.jobs.claim("bench", lease=dt.timedelta(minutes=5))
            assert claimed is not None and claimed.id == job.id
            await persistence.jobs.complete(job.id, "bench")
    return ids


def services(persistence: Persistence, clock: Clock) -> tuple[OrgCasesService, Any]:
    """The two services as the app wires them (the card's block comes from the org cases')."""
    linked = OrgCasesService(
        store=persistence.store,
        org_cases=persistence.org_cases,
        linked=LinkedCasesService(store=persistence.store),
        tasks=persistence.tasks,
    )
    figures = OrgFiguresService(queries=persistence.figures, clock=clock)
    return linked, figures


async def measure(n: int, url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url=url or "",
            graph_sandbox_embedded=False,
            _env_file=None,
        )
        clock = Clock()
        persistence = build_persistence(settings, clock)
        assert persistence.migrate_url
        await migrate.upgrade(persistence.migrate_url)
        if url:
            async with persistence.engines.write.begin() as conn:
                tables = "evidence, evidence_heads, incident_events, incident_targets, incidents"
                await conn.execute(text(f"TRUNCATE {tables}, jobs, case_tasks, registry CASCADE"))
        began = time.perf_counter()
        ids = await seed(persistence, clock, n)
        seeded = time.perf_counter() - began
        clock.at = START + dt.timedelta(days=370)
        linked, figures = services(persistence, clock)
        manager = Viewer("aad-boss", frozenset({Role.MANAGER}), frozenset(DEPARTMENTS[:2]))
        engines = {persistence.engines.write, persistence.engines.read}
        sample = ids[:: max(n // 20, 1)][:20]
        await linked.summary(await persistence.store.load_incident(sample[0]), manager)  # warm
        card = Counter(background=set())
        totals = []
        with counting(engines, card):
            began = time.perf_counter()
            for case_id in sample:
                incident = await persistence.store.load_incident(case_id)
                totals.append((await linked.summary(incident, manager)).total)
            link_s = (time.perf_counter() - began) / len(sample)
        report = Counter(background=set())
        with counting(engines, report):
            began = time.perf_counter()
            year = await figures.figures(dt.date(2026, 4, 1), dt.date(2027, 3, 31))
            report_s = time.perf_counter() - began
        await persistence.store.close()
    return {
        "cases": n,
        "seeded_s": seeded,
        "links": sum(totals) / len(totals),
        "link_ms": link_s * 1000,
        "link_statements": card.statements / len(sample),
        "report_ms": report_s * 1000,
        "report_statements": report.statements,
        "report_cases": year.cases,
        "repeat": year.repeat_counterparts,
        "mails": year.mails_preserved,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, action="append", help="default: 1000 and 10000")
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL (else SQLite)")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"cases at scale on {backend}: linked cases (per card) and the year's report")
    print(
        f"{'cases':>7} {'seed s':>7} {'links':>6} {'card ms':>8} {'card SQL':>9}"
        f" {'report ms':>10} {'report SQL':>11} {'in year':>8} {'repeat':>7} {'mails':>6}"
    )
    for n in args.cases or [1000, 10_000]:
        r = asyncio.run(measure(n, args.postgres))
        print(
            f"{r['cases']:>7,} {r['seeded_s']:>7.1f} {r['links']:>6.1f} {r['link_ms']:>8.1f}"
            f" {r['link_statements']:>9.1f} {r['report_ms']:>10.1f} {r['report_statements']:>11,}"
            f" {r['report_cases']:>8,} {r['repeat']:>7,} {r['mails']:>6,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
