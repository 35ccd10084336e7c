"""The organisation's figures: counts and durations over a period, no personal data.

Computed from cases, their timelines, their tasks, the mails preserved and when mail
protection took hold. Only counts and durations leave this module (plus, where a caller
passes a viewer's visible cases, their ids): no names, addresses or texts.
Months and days are Japanese (JST), where the staff work.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.incidents import JST, Incident, IncidentState, IncidentType
from bot.domain.linking import FREE_MAIL_DOMAINS, counterpart_keys
from bot.domain.tasks import CaseTask

DECIDED = frozenset({IncidentState.ACTIONS_APPROVED, IncidentState.REJECTED})


@dataclass(frozen=True, slots=True)
class Durations:
    """Hours from report to something, over the cases where it happened."""

    count: int
    median_hours: float | None
    mean_hours: float | None
    max_hours: float | None

    @classmethod
    def of(cls, hours: Sequence[float]) -> Durations:
        """Summary of ``hours`` (None figures when empty)."""
        if not hours:
            return cls(0, None, None, None)
        return cls(
            len(hours),
            round(statistics.median(hours), 1),
            round(statistics.fmean(hours), 1),
            round(max(hours), 1),
        )


@dataclass(frozen=True, slots=True)
class OrgFigures:
    """Everything the report and the 「集計」 card show."""

    start: dt.date  # first day, inclusive (JST)
    end: dt.date  # last day, inclusive (JST)
    cases: int
    by_type: dict[str, int]
    by_department: dict[str, int]
    by_month: dict[str, int]  # "2026-04" -> cases reported that month, every month listed
    by_state: dict[str, int]
    to_decision: Durations
    to_protection: Durations
    mails_preserved: int
    open_tasks: int
    overdue_tasks: int
    repeat_counterparts: int  # counterparts (address or SNS account) in 2+ cases
    cases_with_repeat_counterpart: int
    visible_cases: tuple[str, ...] = field(default=())  # ids the viewer may open, if asked


def months(start: dt.date, end: dt.date) -> list[str]:
    """Every month from ``start`` to ``end`` as ``YYYY-MM``."""
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def in_period(incident: Incident, start: dt.date, end: dt.date) -> bool:
    """Whether the case was reported between ``start`` and ``end`` (inclusive, JST)."""
    return start <= incident.created_at.astimezone(JST).date() <= end


def decided_at(incident: Incident) -> dt.datetime | None:
    """When a manager first decided the case (approved or rejected)."""
    for event in incident.timeline:
        if event.to_state in DECIDED:
            return event.at
    return None


def _hours(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds() / 3600


def org_figures(
    incidents: Iterable[Incident],
    *,
    start: dt.date,
    end: dt.date,
    today: dt.date,
    tasks: Mapping[str, Sequence[CaseTask]],
    mails: Mapping[str, int],
    protected_at: Mapping[str, dt.datetime],
    visible: frozenset[str] | None = None,
    free_mail: frozenset[str] = FREE_MAIL_DOMAINS,
) -> OrgFigures:
    """The figures of the cases reported in [start, end]; ``visible``: ids to list."""
    if end < start:
        raise ValueError("the period ends before it starts")
    cases = sorted(
        (i for i in incidents if in_period(i, start, end)), key=lambda i: (i.created_at, i.id)
    )
    by_type = Counter({t.value: 0 for t in IncidentType})
    by_type.update(i.type.value for i in cases)
    by_month = Counter({m: 0 for m in months(start, end)})
    by_month.update(i.created_at.astimezone(JST).strftime("%Y-%m") for i in cases)
    to_decision = []
    to_protection = []
    for incident in cases:
        decided = decided_at(incident)
        if decided is not None:
            to_decision.append(_hours(decided, incident.created_at))
        protected = protected_at.get(incident.id)
        if protected is not None:
            to_protection.append(_hours(protected, incident.created_at))
    case_tasks = [t for i in cases for t in tasks.get(i.id, ())]
    keyed: Counter[str] = Counter()
    case_keys: dict[str, set[str]] = {}
    for incident in cases:
        keys = {
            k
            for k in counterpart_keys(incident.counterparts, free_mail)
            if k.startswith(("email:", "sns:"))
        }
        case_keys[incident.id] = keys
        keyed.update(keys)
    repeated = {k for k, n in keyed.items() if n > 1}
    return OrgFigures(
        start=start,
        end=end,
        cases=len(cases),
        by_type=dict(by_type),
        by_department=dict(sorted(Counter(i.department for i in cases).items())),
        by_month=dict(sorted(by_month.items())),
        by_state=dict(sorted(Counter(i.state.value for i in cases).items())),
        to_decision=Durations.of(to_decision),
        to_protection=Durations.of(to_protection),
        mails_preserved=sum(mails.get(i.id, 0) for i in cases),
        open_tasks=sum(1 for t in case_tasks if not t.done),
        overdue_tasks=sum(1 for t in case_tasks if t.overdue(today)),
        repeat_counterparts=len(repeated),
        cases_with_repeat_counterpart=sum(1 for i in cases if case_keys[i.id] & repeated),
        visible_cases=tuple(i.id for i in cases if visible is not None and i.id in visible),
    )
