"""The access rule as a matrix: every kind of person against every action on a case.

The table is written out in full on purpose: a change to who may do what must change
a row here, where a reviewer sees it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.access import Access, CaseAction, Role, Viewer, access, can_view, permits
from bot.domain.departments import Department, Members, Organisation
from bot.domain.incidents import IncidentDraft, IncidentType, Person, open_incident

AT = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
REPORTER = Person("oid-reporter", "田中 花子")
TARGET = Person("oid-target", "鈴木 次郎")
CASE = open_incident(
    IncidentDraft(IncidentType.MASS_EMAIL, REPORTER, "shimin", "summary", targets=(TARGET,)),
    incident_id="KH-2026-0001",
    at=AT,
)
MANAGES_SHIMIN = frozenset({Role.STAFF, Role.MANAGER})


def viewer(object_id: str, *roles: Role, manages: tuple[str, ...] = ()) -> Viewer:
    return Viewer(object_id, frozenset({Role.STAFF, *roles}), frozenset(manages))


PEOPLE = {
    "reporter": viewer("oid-reporter"),
    "targeted staff": viewer("oid-target"),
    "department manager": viewer("oid-kacho", Role.MANAGER, manages=("shimin",)),
    "manager of two departments": viewer("oid-bucho", Role.MANAGER, manages=("zeimu", "shimin")),
    "manager of another department": viewer("oid-zeimu", Role.MANAGER, manages=("zeimu",)),
    "legal section": viewer("oid-legal", Role.LEGAL),
    "legal section and manager elsewhere": viewer(
        "oid-legal2", Role.LEGAL, Role.MANAGER, manages=("zeimu",)
    ),
    "unrelated staff": viewer("oid-other"),
    "reporter who is a manager": viewer("oid-reporter", Role.MANAGER, manages=("shimin",)),
    "target who is a manager": viewer("oid-target", Role.MANAGER, manages=("shimin",)),
    "reporter in the legal section": viewer("oid-reporter", Role.LEGAL),
    # A department name without the manager role (a half-resolved directory answer).
    "department listed without the role": Viewer(
        "oid-x", frozenset({Role.STAFF}), frozenset({"shimin"})
    ),
    "nobody (no object id)": viewer(""),
}

A, NF, NM, OWN = Access.ALLOWED, Access.NOT_FOUND, Access.NOT_A_MANAGER, Access.OWN_CASE
#                                          SEE ADD  DECIDE EXPORT MANAGE MERGE
MATRIX: dict[str, tuple[Access, Access, Access, Access, Access, Access]] = {
    "reporter":                            (A,  A,   NM,    NM,    NM,    NM),
    "targeted staff":                      (A,  A,   NM,    NM,    NM,    NM),
    "department manager":                  (A,  A,   A,     A,     A,     A),
    "manager of two departments":          (A,  A,   A,     A,     A,     A),
    "manager of another department":       (NF, NF,  NF,    NF,    NF,    NF),
    "legal section":                       (A,  A,   NM,    A,     NM,    A),
    "legal section and manager elsewhere": (A,  A,   NM,    A,     NM,    A),
    "unrelated staff":                     (NF, NF,  NF,    NF,    NF,    NF),
    "reporter who is a manager":           (A,  A,   OWN,   OWN,   OWN,   OWN),
    "target who is a manager":             (A,  A,   OWN,   OWN,   OWN,   OWN),
    "reporter in the legal section":       (A,  A,   OWN,   OWN,   OWN,   OWN),
    "department listed without the role":  (NF, NF,  NF,    NF,    NF,    NF),
    "nobody (no object id)":               (NF, NF,  NF,    NF,    NF,    NF),
}  # fmt: skip
ACTIONS = (
    CaseAction.SEE,
    CaseAction.ADD_EVIDENCE,
    CaseAction.DECIDE,
    CaseAction.EXPORT,
    CaseAction.MANAGE,
    CaseAction.MERGE,
)


def test_the_matrix_covers_every_action_and_person() -> None:
    assert set(ACTIONS) == set(CaseAction)
    assert set(MATRIX) == set(PEOPLE)


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_access_matrix(who: str) -> None:
    got = tuple(access(PEOPLE[who], CASE, action) for action in ACTIONS)
    assert got == MATRIX[who]
    for action, expected in zip(ACTIONS, MATRIX[who], strict=True):
        assert permits(PEOPLE[who], CASE, action) is (expected is Access.ALLOWED)
    assert can_view(CASE, PEOPLE[who]) is (MATRIX[who][0] is Access.ALLOWED)


def test_nobody_acts_for_the_organisation_on_their_own_case() -> None:
    everything = frozenset({Role.STAFF, Role.MANAGER, Role.LEGAL})
    for person in (REPORTER, TARGET):
        boss = Viewer(person.object_id, everything, frozenset({"shimin", "zeimu"}))
        for action in (CaseAction.DECIDE, CaseAction.EXPORT, CaseAction.MANAGE, CaseAction.MERGE):
            assert access(boss, CASE, action) is Access.OWN_CASE


def test_organisation_rejects_an_unknown_default_and_duplicate_ids() -> None:
    shimin = Department("shimin", "市民課", Members(frozenset({"m"})))
    with pytest.raises(ValueError, match="default department"):
        Organisation((shimin,), "default")
    with pytest.raises(ValueError, match="own id"):
        Organisation((shimin, shimin), "shimin")
    assert Organisation((shimin,), "shimin").name_of("shimin") == "市民課"
