"""The organisation's figures over a seeded fiscal year: the rule, then the command's files.

A year (April 2026 to March 2027) of 24 cases whose every figure is known in advance:
months 1, 2, 3, 1, 2, 3... cases; types and departments in turn; decisions after 2 or 26
hours; protection after 5 hours for the mail cases that were approved; tasks open, done,
overdue; one address in three cases and one SNS account in two.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.domain.figures import OrgFigures, months, org_figures
from bot.domain.incidents import (
    JST,
    Counterparts,
    Incident,
    IncidentDraft,
    IncidentState,
    IncidentType,
    Person,
    open_incident,
)
from bot.domain.ports import EmailEvidence
from bot.domain.tasks import CaseTask, TaskKind
from tests.store.backends import _create_database, _drop_database, postgres_url, run_in_thread

__all__ = ["postgres_url"]  # the fixture

START, END = dt.date(2026, 4, 1), dt.date(2027, 3, 31)
TODAY = dt.date(2027, 4, 10)
TYPES = [IncidentType.SNS_DEFAMATION, IncidentType.MASS_EMAIL, IncidentType.PERSONAL_FIXATION]
BOSS = Person("aad-kacho", "高橋 課長")
REPEATED = "kujou@example.net"


def _at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 10, 0, tzinfo=JST)


def seed_plan() -> list[dict[str, object]]:
    """What each of the 24 cases looks like (shared by the rule test and the CLI test)."""
    plan: list[dict[str, object]] = []
    for n, month in enumerate(months(START, END)):
        year, mon = int(month[:4]), int(month[5:])
        for k in range(n % 3 + 1):
            i = len(plan)
            counterpart = Counterparts()
            if i in (0, 5, 9):
                counterpart = Counterparts(emails=(REPEATED,), domains=("example.net",))
            elif i in (3, 4):
                counterpart = Counterparts(sns_accounts=("@troll",))
            elif i % 2:
                counterpart = Counterparts(emails=(f"person{i}@gmail.com",), domains=("gmail.com",))
            plan.append(
                {
                    "i": i,
                    "at": _at(year, mon, 3 + k),
                    "type": TYPES[i % 3],
                    "department": "shimin" if i % 2 == 0 else "zeimu",
                    "counterparts": counterpart,
                    "decide_after": dt.timedelta(hours=2 if i % 2 == 0 else 26) if i < 20 else None,
                    "approve": i % 4 != 3,
                }
            )
    return plan


def seeded_incidents() -> list[Incident]:
    out = []
    for p in seed_plan():
        at = p["at"]
        assert isinstance(at, dt.datetime)
        at = at.astimezone(dt.UTC)  # the clock is UTC, as in the app
        incident = open_incident(
            IncidentDraft(
                type=p["type"],  # type: ignore[arg-type]
                reporter=Person(f"aad-staff-{p['i']}", f"職員{p['i']}"),
                department=str(p["department"]),
                summary="毎日大量のメール",
                counterparts=p["counterparts"],  # type: ignore[arg-type]
            ),
            incident_id=f"KH-2026-{int(p['i']) + 1:04d}",  # type: ignore[call-overload]
            at=at,
        )
        incident = incident.moved_to(IncidentState.ESCALATED, actor=incident.reporter, at=at)
        after = p["decide_after"]
        if isinstance(after, dt.timedelta):
            target = IncidentState.ACTIONS_APPROVED if p["approve"] else IncidentState.REJECTED
            incident = incident.moved_to(target, actor=BOSS, at=at + after)
        out.append(incident)
    return out


def tasks_for(incidents: list[Incident]) -> dict[str, list[CaseTask]]:
    """Case 0: one done; cases 1-3: one open each, due in 2027-04 (1) or before (2, 3)."""
    out: dict[str, list[CaseTask]] = {}
    for n, incident in enumerate(incidents[:4]):
        due = dt.date(2027, 4, 20) if n == 1 else dt.date(2027, 3, 1)
        task = CaseTask(
            incident.id, TaskKind.POLICE_CONSULTATION, "aad-kacho", "高橋", due, incident.created_at
        )
        if n == 0:
            task = task.marked_done("高橋", incident.created_at + dt.timedelta(days=1))
        out[incident.id] = [task]
    return out


def expected_check(f: OrgFigures) -> None:
    assert f.cases == 24
    assert list(f.by_month.values()) == [1, 2, 3] * 4
    assert {k: v for k, v in f.by_type.items() if v} == {
        "sns-defamation": 8,
        "mass-email": 8,
        "personal-fixation": 8,
    }
    assert f.by_department == {"shimin": 12, "zeimu": 12}
    # 20 decided: 10 after 2 h, 10 after 26 h; rejected: i % 4 == 3 among the first 20 -> 5.
    assert (f.to_decision.count, f.to_decision.median_hours) == (20, 14.0)
    assert f.to_decision.mean_hours == 14.0 and f.to_decision.max_hours == 26.0
    assert f.by_state == {"actions_approved": 15, "escalated": 4, "rejected": 5}
    assert f.open_tasks == 3 and f.overdue_tasks == 2
    assert f.repeat_counterparts == 2  # kujou@example.net (3 cases) and @troll (2 cases)
    assert f.cases_with_repeat_counterpart == 5


def test_the_rule_gives_the_known_figures_of_a_seeded_year() -> None:
    incidents = seeded_incidents()
    protected = {i.id: i.created_at + dt.timedelta(hours=5) for i in incidents[:6]}
    mails = {i.id: 10 * n for n, i in enumerate(incidents)}
    f = org_figures(
        incidents,
        start=START,
        end=END,
        today=TODAY,
        tasks=tasks_for(incidents),
        mails=mails,
        protected_at=protected,
        visible=frozenset({incidents[0].id, "KH-1999-0001"}),
    )
    expected_check(f)
    assert f.mails_preserved == 10 * sum(range(24))
    assert (f.to_protection.count, f.to_protection.median_hours) == (6, 5.0)
    assert f.visible_cases == (incidents[0].id,)
    # A shorter period counts only its own cases (JST dates, inclusive).
    q1 = org_figures(
        incidents,
        start=dt.date(2026, 4, 1),
        end=dt.date(2026, 6, 30),
        today=TODAY,
        tasks={},
        mails={},
        protected_at={},
    )
    assert q1.cases == 6 and list(q1.by_month) == ["2026-04", "2026-05", "2026-06"]
    with pytest.raises(ValueError):
        org_figures(
            incidents, start=END, end=START, today=TODAY, tasks={}, mails={}, protected_at={}
        )


class _Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.at


async def _seed_database(settings: Settings) -> None:
    from bot.app import build_persistence
    from bot.domain.jobs import JobSpec
    from bot.store import migrate

    clock = _Clock()
    persistence = build_persistence(settings, clock)
    assert persistence.migrate_url
    await migrate.upgrade(persistence.migrate_url)
    store = persistence.store
    ids = []
    for p, incident in zip(seed_plan(), seeded_incidents(), strict=True):
        clock.at = incident.created_at
        created = await store.create_incident(
            IncidentDraft(
                type=incident.type,
                reporter=incident.reporter,
                department=incident.department,
                summary=incident.summary,
                counterparts=incident.counterparts,
            ),
            idempotency_key=f"seed-{p['i']}",
        )
        ids.append(created.id)
        for event in incident.timeline[1:]:
            clock.at = event.at
            assert event.to_state is not None
            await store.transition(created.id, event.to_state, actor=event.actor)
        if int(p["i"]) < 6:  # mail protection finished 5 hours after the report
            clock.at = incident.created_at + dt.timedelta(hours=1)
            job = await persistence.jobs.enqueue(
                JobSpec("mail-protection", created.id, {}, f"{created.id}:mail-protection")
            )
            clock.at = incident.created_at + dt.timedelta(hours=5)
            claimed = await persistence.jobs.claim("seed", lease=dt.timedelta(minutes=5))
            assert claimed is not None and claimed.id == job.id
            await persistence.jobs.complete(job.id, "seed")
        for m in range(int(p["i"]) % 3):  # 0, 1 or 2 mails preserved
            eml = f"From: x\r\nMessage-ID: <{p['i']}.{m}@x>\r\n\r\nbody".encode()
            item = EmailEvidence(
                f"imm-{p['i']}-{m}",
                f"<{p['i']}.{m}@x>",
                incident.created_at,
                "kujou@example.net",
                "件名",
                hashlib.sha256(eml).hexdigest(),
                "tanaka@city.example.jp",
            )
            await store.record_email(created.id, item, eml)
    seeded = seeded_incidents()
    renamed = {s.id: i for s, i in zip(seeded, ids, strict=True)}
    for case_id, tasks in tasks_for(seeded).items():
        await persistence.tasks.add_tasks(
            [
                CaseTask(renamed[case_id], t.kind, t.owner_id, t.owner_name, t.due, t.created_at)
                for t in tasks
            ]
        )
        if tasks[0].done:
            await persistence.tasks.save_task(
                tasks[0].__class__(
                    renamed[case_id],
                    *[
                        getattr(tasks[0], f)
                        for f in (
                            "kind",
                            "owner_id",
                            "owner_name",
                            "due",
                            "created_at",
                            "done_at",
                            "done_by",
                        )
                    ],
                )
            )
    await store.close()


def test_mamoru_report_org_writes_the_html_and_csv_of_the_seeded_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAMORU_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    settings = Settings(data_dir=tmp_path, _env_file=None)
    asyncio.run(_seed_database(settings))
    monkeypatch.setattr("bot.cases.figures.OrgFiguresService.today", lambda self: TODAY)
    out = tmp_path / "out"
    code = main(
        [
            "report",
            "org",
            "--from",
            "2026-04-01",
            "--to",
            "2027-03-31",
            "--out",
            str(out),
            "--organisation",
            "架空市",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "24 cases" in printed and "24 mails preserved" in printed
    html = (out / "org-report-20260401_20270331.html").read_text(encoding="utf-8")
    raw = (out / "org-report-20260401_20270331.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    table = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert table[("件数", "合計")] == "24"
    assert [table[("月", m)] for m in months(START, END)] == ["1", "2", "3"] * 4
    assert table[("部署", "shimin")] == table[("部署", "zeimu")] == "12"
    assert table[("報告から判断まで（時間）", "中央値")] == "14.0"
    assert table[("報告から保全まで（時間）", "件数")] == "6"
    assert table[("報告から保全まで（時間）", "中央値")] == "5.0"
    assert table[("メール", "保全した通数")] == "24"  # 8 cases with 1 mail, 8 with 2
    assert (table[("タスク", "未完了")], table[("タスク", "期限切れ")]) == ("3", "2")
    assert table[("相手", "複数の案件に現れた相手")] == "2"
    # Print-ready, self-contained, and counts only.
    assert html.startswith("<!DOCTYPE html>") and '<html lang="ja">' in html
    assert html.count("<svg") == 3 and "@page" in html
    assert (
        "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        and "https://" not in html
    )
    assert "架空市" in html and "24件" in html
    for personal in ("職員1", "職員0", REPEATED, "troll", "gmail", "毎日大量"):
        assert personal not in html and personal not in raw.decode("utf-8-sig")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a fresh SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path, _env_file=None)
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
    url, name = run_in_thread(_create_database())
    try:
        yield Settings(data_dir=tmp_path, database_url=url, _env_file=None)
    finally:
        run_in_thread(_drop_database(name))


async def test_the_database_counts_the_same_figures_as_the_rule(
    database_settings: Settings,
) -> None:
    from bot.app import build_persistence
    from bot.domain.access import Role, Viewer
    from bot.domain.figures import figures_of

    await _seed_database(database_settings)
    persistence = build_persistence(database_settings, _Clock())
    try:
        counts = await persistence.figures.period_counts(START, END, today=TODAY)
        f = figures_of(counts, start=START, end=END)
        expected_check(f)
        assert f.mails_preserved == 24
        assert (f.to_protection.count, f.to_protection.median_hours) == (6, 5.0)
        assert f.visible_cases == ()
        kacho = Viewer("aad-kacho", frozenset({Role.MANAGER}), frozenset({"shimin"}))
        mine = await persistence.figures.period_counts(START, END, today=TODAY, viewer=kacho)
        assert len(mine.visible_cases) == 12  # the even cases are 市民相談課's
        q1 = figures_of(
            await persistence.figures.period_counts(
                dt.date(2026, 4, 1), dt.date(2026, 6, 30), today=TODAY
            ),
            start=dt.date(2026, 4, 1),
            end=dt.date(2026, 6, 30),
        )
        assert q1.cases == 6 and q1.by_month == {"2026-04": 1, "2026-05": 2, "2026-06": 3}
        assert q1.repeat_counterparts == 2 and q1.cases_with_repeat_counterpart == 4
    finally:
        await persistence.engines.dispose()
