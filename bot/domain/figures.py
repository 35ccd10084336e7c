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
from bot.domain.linking import FREE_MAIL_DOMAINS, PERSON_KEYS, counterpart_keys
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


def _jst_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), JST).astimezone(dt.UTC)


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end] in JST as a half-open UTC range ``[from, until)`` (for a query)."""
    return _jst_midnight(start), _jst_midnight(end + dt.timedelta(days=1))


def month_bounds(start: dt.date, end: dt.date) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Each month of [start, end] (JST) as ``(YYYY-MM, from, until)``, clipped to the period."""
    first, last = period_bounds(start, end)
    out = []
    for label in months(start, end):
        year, month = int(label[:4]), int(label[5:])
        following = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
        out.append(
            (
                label,
                max(first, _jst_midnight(dt.date(year, month, 1))),
                min(last, _jst_midnight(following)),
            )
        )
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


@dataclass(frozen=True, slots=True)
class PeriodCounts:
    """What is counted over the cases reported in a period: the figures' raw material.

    A SQL store counts these with aggregate queries (``bot.store.figures``); ``org_figures``
    counts them from cases in hand. ``figures_of`` turns either into ``OrgFigures``.
    """

    by_type: Mapping[str, int]
    by_department: Mapping[str, int]
    by_month: Mapping[str, int]  # "YYYY-MM" (JST) -> cases; months without cases may lack
    by_state: Mapping[str, int]
    decision_hours: Sequence[float]  # report to first decision, per decided case
    protection_hours: Sequence[float]  # report to mail protection finished, per case
    mails_preserved: int
    open_tasks: int
    overdue_tasks: int
    repeat_counterparts: int
    cases_with_repeat_counterpart: int
    visible_cases: tuple[str, ...] = ()  # oldest first


def figures_of(counts: PeriodCounts, *, start: dt.date, end: dt.date) -> OrgFigures:
    """The figures of [start, end] from its counts: every type and month listed, sorted."""
    if end < start:
        raise ValueError("the period ends before it starts")
    by_type = Counter({t.value: 0 for t in IncidentType})
    by_type.update(counts.by_type)
    by_month = Counter({m: 0 for m in months(start, end)})
    by_month.update(counts.by_month)
    return OrgFigures(
        start=start,
        end=end,
        cases=sum(counts.by_type.values()),
        by_type=dict(by_type),
        by_department=dict(sorted((k, v) for k, v in counts.by_department.items() if v)),
        by_month=dict(sorted(by_month.items())),
        by_state=dict(sorted((k, v) for k, v in counts.by_state.items() if v)),
        to_decision=Durations.of(counts.decision_hours),
        to_protection=Durations.of(counts.protection_hours),
        mails_preserved=counts.mails_preserved,
        open_tasks=counts.open_tasks,
        overdue_tasks=counts.overdue_tasks,
        repeat_counterparts=counts.repeat_counterparts,
        cases_with_repeat_counterpart=counts.cases_with_repeat_counterpart,
        visible_cases=counts.visible_cases,
    )


def hours_between(later: dt.datetime, earlier: dt.datetime) -> float:
    """Hours from ``earlier`` to ``later``."""
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
    """The figures of the cases in hand reported in [start, end]; ``visible``: ids to list."""
    if end < start:
        raise ValueError("the period ends before it starts")
    cases = sorted(
        (i for i in incidents if in_period(i, start, end)), key=lambda i: (i.created_at, i.id)
    )
    to_decision = []
    to_protection = []
    for incident in cases:
        decided = decided_at(incident)
        if decided is not None:
            to_decision.append(hours_between(decided, incident.created_at))
        protected = protected_at.get(incident.id)
        if protected is not None:
            to_protection.append(hours_between(protected, incident.created_at))
    case_tasks = [t for i in cases for t in tasks.get(i.id, ())]
    keyed: Counter[str] = Counter()
    case_keys: dict[str, set[str]] = {}
    for incident in cases:
        keys = {
            k
            for k in counterpart_keys(incident.counterparts, free_mail)
            if k.startswith(PERSON_KEYS)
        }
        case_keys[incident.id] = keys
        keyed.update(keys)
    repeated = {k for k, n in keyed.items() if n > 1}
    counts = PeriodCounts(
        by_type=Counter(i.type.value for i in cases),
        by_department=Counter(i.department for i in cases),
        by_month=Counter(i.created_at.astimezone(JST).strftime("%Y-%m") for i in cases),
        by_state=Counter(i.state.value for i in cases),
        decision_hours=to_decision,
        protection_hours=to_protection,
        mails_preserved=sum(mails.get(i.id, 0) for i in cases),
        open_tasks=sum(1 for t in case_tasks if not t.done),
        overdue_tasks=sum(1 for t in case_tasks if t.overdue(today)),
        repeat_counterparts=len(repeated),
        cases_with_repeat_counterpart=sum(1 for i in cases if case_keys[i.id] & repeated),
        visible_cases=tuple(i.id for i in cases if visible is not None and i.id in visible),
    )
    return figures_of(counts, start=start, end=end)
