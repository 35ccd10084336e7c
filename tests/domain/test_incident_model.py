"""Incident domain: ids, state machine, access rule."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.access import Role, Viewer, can_view
from bot.domain.errors import InvalidIncidentId, InvalidTransition
from bot.domain.incidents import (
    TRANSITIONS,
    Counterparts,
    IncidentDraft,
    IncidentState,
    IncidentType,
    Person,
    format_incident_id,
    incident_year,
    open_incident,
    parse_incident_id,
)

AT = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
ALICE = Person("a", "Alice")
BOB = Person("b", "Bob")


def incident(**kw: object):  # type: ignore[no-untyped-def]
    """A fresh incident."""
    draft = IncidentDraft(IncidentType.MASS_EMAIL, ALICE, "市民課", "s", **kw)  # type: ignore[arg-type]
    return open_incident(draft, incident_id="KH-2026-0001", at=AT)


def test_ids() -> None:
    assert format_incident_id(2026, 1) == "KH-2026-0001"
    assert format_incident_id(2026, 12345) == "KH-2026-12345"
    assert parse_incident_id(" KH-2026-0042 ") == (2026, 42)
    for bad in ("KH-26-1", "kh-2026-0001", "KH-2026-01", ""):
        with pytest.raises(InvalidIncidentId):
            parse_incident_id(bad)
    assert incident_year(dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC)) == 2027


def test_open_incident_defaults_targets_and_dedupes() -> None:
    assert incident().targets == (ALICE,)
    assert incident(targets=(BOB, ALICE, BOB)).targets == (BOB, ALICE)
    first = incident().timeline[0]
    assert (first.kind, first.to_state, first.actor) == ("reported", "reported", ALICE)


def test_counterparts_are_normalised() -> None:
    assert Counterparts(emails=("b@x", "a@x", "b@x")).emails == ("a@x", "b@x")
    assert Counterparts().is_empty() and not Counterparts(urls=("https://x",)).is_empty()


def test_every_state_is_reachable_and_transitions_enforced() -> None:
    reachable = {IncidentState.REPORTED}
    for targets in TRANSITIONS.values():
        reachable |= targets
    assert reachable == set(IncidentState)
    case = incident()
    case = case.moved_to(IncidentState.ESCALATED, actor=BOB, at=AT, note="n")
    assert case.state is IncidentState.ESCALATED and case.timeline[-1].from_state == "reported"
    with pytest.raises(InvalidTransition) as info:
        case.moved_to(IncidentState.CLOSED, actor=BOB, at=AT)
    assert (info.value.current, info.value.target) == ("escalated", "closed")
    assert case.moved_to(IncidentState.REJECTED, actor=BOB, at=AT).can_move_to(
        IncidentState.REOPENED
    )


def test_access_rule() -> None:
    case = incident(targets=(BOB,))
    assert can_view(case, Viewer("a"))  # reporter
    assert can_view(case, Viewer("b"))  # targeted staff
    assert can_view(case, Viewer("m", frozenset({Role.MANAGER}), frozenset({"市民課"})))
    assert can_view(case, Viewer("l", frozenset({Role.LEGAL})))
    assert not can_view(case, Viewer("m", frozenset({Role.MANAGER}), frozenset({"税務課"})))
    assert not can_view(case, Viewer("s", frozenset({Role.STAFF}), frozenset({"市民課"})))
    assert not can_view(case, Viewer("x"))
