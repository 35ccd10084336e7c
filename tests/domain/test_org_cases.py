"""Organisational cases: who may merge, what a merge would take, what each viewer sees.

Three cases with the same counterpart: two in 市民相談課 (田中's and 山田's), one in 税務課
(鈴木's). The people: both departments' managers, the legal section, and the staff.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.access import Access, Role, Viewer
from bot.domain.incidents import Counterparts, Incident, IncidentDraft, IncidentType, Person
from bot.domain.incidents import open_incident as _open
from bot.domain.org_cases import (
    Membership,
    MergedInto,
    OrgCase,
    OrgCaseNotFound,
    is_org_case_id,
    merge_access,
    merge_target,
    merged_note,
    new_org_case_id,
    org_merged_note,
    parse_org_note,
    plan_merge,
    plan_org_merge,
    removed_note,
    shared_counterpart,
    survivor,
    view_org_case,
)

AT = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
TANAKA = Person("oid-tanaka", "田中 花子")
YAMADA = Person("oid-yamada", "山田 一郎")
SUZUKI = Person("oid-suzuki", "鈴木 次郎")
ANGRY = Counterparts(emails=("angry@example.co.jp",), domains=("example.co.jp",))


def case(number: int, reporter: Person, department: str, minutes: int = 0) -> Incident:
    draft = IncidentDraft(IncidentType.MASS_EMAIL, reporter, department, "…", counterparts=ANGRY)
    return _open(draft, incident_id=f"KH-2026-{number:04d}", at=AT + dt.timedelta(minutes=minutes))


FIRST = case(1, TANAKA, "shimin")
SECOND = case(2, YAMADA, "shimin", 1)
THIRD = case(3, SUZUKI, "zeimu", 2)
KACHO = Viewer("oid-kacho", frozenset({Role.STAFF, Role.MANAGER}), frozenset({"shimin"}))
ZEIMU = Viewer("oid-zeimu", frozenset({Role.STAFF, Role.MANAGER}), frozenset({"zeimu"}))
BUCHO = Viewer("oid-bucho", frozenset({Role.MANAGER}), frozenset({"shimin", "zeimu"}))
LEGAL = Viewer("oid-legal", frozenset({Role.LEGAL}))
STAFF = Viewer(TANAKA.object_id, frozenset({Role.STAFF}))
# A manager of 市民相談課 who is also a target of the second case.
TARGETED_KACHO = Viewer(YAMADA.object_id, frozenset({Role.MANAGER}), frozenset({"shimin"}))


def test_a_manager_merges_only_what_they_may_act_on_in_every_case() -> None:
    assert merge_access(KACHO, [FIRST, SECOND]) is Access.ALLOWED
    # 税務課's case is not even visible to 市民相談課's manager: "not found" for the whole.
    assert merge_access(KACHO, [FIRST, SECOND, THIRD]) is Access.NOT_FOUND
    assert merge_access(ZEIMU, [FIRST, THIRD]) is Access.NOT_FOUND
    # A manager of both departments, and the organisation-wide role, merge across them.
    assert merge_access(BUCHO, [FIRST, SECOND, THIRD]) is Access.ALLOWED
    assert merge_access(LEGAL, [FIRST, SECOND, THIRD]) is Access.ALLOWED
    # Staff see their own case and merge nothing; nobody merges a case that concerns them.
    assert merge_access(STAFF, [FIRST, SECOND]) is Access.NOT_FOUND
    assert merge_access(STAFF, [FIRST]) is Access.NOT_A_MANAGER
    assert merge_access(TARGETED_KACHO, [FIRST, SECOND]) is Access.OWN_CASE


def test_the_plan_lists_exactly_the_cases_the_viewer_may_merge() -> None:
    linked = [SECOND, THIRD]
    plan = plan_merge(FIRST, linked, KACHO, {})
    assert [i.id for i in plan.members] == [FIRST.id, SECOND.id]
    assert plan.not_yours == 1 and plan.org_id == "" and plan.possible
    assert plan_merge(FIRST, linked, LEGAL, {}).new_members == (FIRST.id, SECOND.id, THIRD.id)
    # The 税務課 manager alone has nothing to merge from 鈴木's card.
    alone = plan_merge(THIRD, [FIRST, SECOND], ZEIMU, {})
    assert not alone.possible and alone.not_yours == 2


def test_a_plan_joins_an_existing_organisational_case_and_keeps_its_members() -> None:
    org_of = {FIRST.id: "ORG-KH-2026-0001", SECOND.id: "ORG-KH-2026-0001"}
    fourth = case(4, TANAKA, "shimin", 3)
    into = merge_target(fourth, [FIRST, SECOND], KACHO, org_of)
    assert into == "ORG-KH-2026-0001"
    plan = plan_merge(
        fourth, [FIRST, SECOND], KACHO, org_of, into=into, org_members=[FIRST, SECOND]
    )
    assert plan.new_members == (fourth.id,) and set(plan.already) == {FIRST.id, SECOND.id}
    assert plan.possible
    # Nothing new: a repeated merge is not offered again.
    again = plan_merge(FIRST, [SECOND], KACHO, org_of, into=into, org_members=[FIRST, SECOND])
    assert not again.possible and again.access is Access.ALLOWED
    # An organisational case holding a case the viewer may not merge is not theirs to grow.
    wide = {**org_of, THIRD.id: "ORG-KH-2026-0001"}
    refused = plan_merge(
        fourth, [FIRST, SECOND, THIRD], KACHO, wide, into=into, org_members=[FIRST, SECOND, THIRD]
    )
    assert refused.access is Access.NOT_FOUND and not refused.possible
    # A linked case in another organisational case is left out, and named.
    other = plan_merge(fourth, [FIRST, SECOND], KACHO, {SECOND.id: "ORG-KH-2026-0002"})
    assert other.elsewhere == ((SECOND.id, "ORG-KH-2026-0002"),)


def org_of(*members: Incident) -> OrgCase:
    return OrgCase(
        "ORG-KH-2026-0001",
        AT,
        Person("oid-legal", "法務 担当"),
        tuple(Membership(m.id, AT, Person("oid-legal", "法務 担当")) for m in members),
    )


def test_each_viewer_sees_their_members_and_only_counts_of_the_others() -> None:
    org = org_of(FIRST, SECOND, THIRD)
    members = [FIRST, SECOND, THIRD]
    kacho = view_org_case(org, members, KACHO)
    assert [i.id for i in kacho.visible] == [FIRST.id, SECOND.id]
    assert (kacho.hidden_other_departments, kacho.hidden_same_department) == (1, 0)
    assert kacho.removable == (FIRST.id, SECOND.id) and not kacho.can_export
    staff = view_org_case(org, members, STAFF)
    assert [i.id for i in staff.visible] == [FIRST.id]
    assert (staff.hidden_other_departments, staff.hidden_same_department) == (1, 1)
    assert staff.removable == () and not staff.can_export
    legal = view_org_case(org, members, LEGAL)
    assert len(legal.visible) == 3 and legal.can_export
    assert legal.counterpart == ("domain:example.co.jp", "email:angry@example.co.jp")
    outsider = Viewer("oid-x", frozenset({Role.STAFF}))
    for nobody in (outsider, Viewer("oid-zeimu2", frozenset({Role.MANAGER}), frozenset({"x"}))):
        try:
            view_org_case(org, members, nobody)
        except OrgCaseNotFound:
            continue
        raise AssertionError("an outsider must not see the organisational case")


def test_ids_notes_and_the_shared_counterpart() -> None:
    assert new_org_case_id(FIRST, []) == "ORG-KH-2026-0001"
    assert new_org_case_id(FIRST, ["ORG-KH-2026-0001", "ORG-KH-2026-0001-2"]) == (
        "ORG-KH-2026-0001-3"
    )
    assert is_org_case_id("ORG-KH-2026-0001-3") and not is_org_case_id("ORG-../etc")
    assert not is_org_case_id("KH-2026-0001") and not is_org_case_id(None)
    note = merged_note("ORG-KH-2026-0001", [FIRST.id, SECOND.id], [SECOND.id])
    parsed = parse_org_note(note)
    assert parsed is not None and parsed.action == "merged"
    assert parsed.members == (FIRST.id, SECOND.id)
    assert "KH-2026-0002 を組織案件 ORG-KH-2026-0001 にまとめました" in note
    gone = parse_org_note(removed_note("ORG-KH-2026-0001", [FIRST.id], SECOND.id))
    assert gone is not None and gone.action == "removed" and gone.members == (FIRST.id,)
    assert parse_org_note("ただのメモ") is None
    other = Counterparts(emails=("angry@example.co.jp",))
    assert shared_counterpart([FIRST, case(9, TANAKA, "shimin")]) == (
        "domain:example.co.jp",
        "email:angry@example.co.jp",
    )
    lone = _open(
        IncidentDraft(IncidentType.MASS_EMAIL, TANAKA, "shimin", "…", counterparts=other),
        incident_id="KH-2026-0010",
        at=AT,
    )
    assert shared_counterpart([FIRST, lone]) == (
        "domain:example.co.jp",
        "email:angry@example.co.jp",
    )


# --- Two organisational cases with the same counterpart -----------------------------------

FOURTH = case(4, Person("oid-inoue", "井上 三郎"), "zeimu", 3)
CASES = {c.id: c for c in (FIRST, SECOND, THIRD, FOURTH)}


def org(org_id: str, minutes: int, *members: Incident) -> OrgCase:
    at = AT + dt.timedelta(hours=1, minutes=minutes)
    return OrgCase(org_id, at, TANAKA, tuple(Membership(m.id, at, TANAKA) for m in members))


SHIMIN_ORG = org("ORG-KH-2026-0001", 0, FIRST, SECOND)
ZEIMU_ORG = org("ORG-KH-2026-0003", 5, THIRD, FOURTH)


def test_two_organisational_cases_merge_into_the_older_whichever_side_asks() -> None:
    for first, second in ((SHIMIN_ORG, ZEIMU_ORG), (ZEIMU_ORG, SHIMIN_ORG)):
        plan = plan_org_merge(first, second, CASES, LEGAL)
        assert (plan.into.id, plan.absorbed.id) == (SHIMIN_ORG.id, ZEIMU_ORG.id)
        assert [i.id for i in plan.members] == [FIRST.id, SECOND.id, THIRD.id, FOURTH.id]
        assert plan.moving == (THIRD.id, FOURTH.id) and plan.possible
    assert survivor(ZEIMU_ORG, SHIMIN_ORG) == (SHIMIN_ORG, ZEIMU_ORG)


def test_merging_two_needs_merge_on_every_member_of_both() -> None:
    # Each department's manager sees only their own organisational case's members.
    assert plan_org_merge(SHIMIN_ORG, ZEIMU_ORG, CASES, KACHO).access is Access.NOT_FOUND
    assert plan_org_merge(ZEIMU_ORG, SHIMIN_ORG, CASES, ZEIMU).access is Access.NOT_FOUND
    assert plan_org_merge(SHIMIN_ORG, ZEIMU_ORG, CASES, BUCHO).possible
    assert not plan_org_merge(SHIMIN_ORG, ZEIMU_ORG, CASES, STAFF).possible
    # A manager who is the target of one member merges neither.
    targeted = plan_org_merge(SHIMIN_ORG, ZEIMU_ORG, CASES, TARGETED_KACHO)
    assert targeted.access is Access.NOT_FOUND and not targeted.possible  # 税務課's unseen
    own = plan_org_merge(
        SHIMIN_ORG,
        org("ORG-KH-2026-0009", 9, case(9, SUZUKI, "shimin")),
        {**CASES, "KH-2026-0009": case(9, SUZUKI, "shimin")},
        TARGETED_KACHO,
    )
    assert own.access is Access.OWN_CASE and not own.possible
    # One organisational case with itself changes nothing.
    assert not plan_org_merge(SHIMIN_ORG, SHIMIN_ORG, CASES, LEGAL).possible


def test_an_emptied_organisational_case_points_where_its_members_went() -> None:
    at = AT + dt.timedelta(hours=2)
    emptied = OrgCase(
        ZEIMU_ORG.id,
        ZEIMU_ORG.created_at,
        TANAKA,
        tuple(
            Membership(m.incident_id, m.joined_at, TANAKA, at, SUZUKI)
            for m in ZEIMU_ORG.memberships
        ),
        merged_into=MergedInto(SHIMIN_ORG.id, at, SUZUKI, (THIRD.id, FOURTH.id)),
    )
    assert emptied.members == ()
    # Seen through the members that moved: 税務課's manager sees them, 市民相談課's does not.
    view = view_org_case(emptied, [THIRD, FOURTH], ZEIMU)
    assert [i.id for i in view.visible] == [THIRD.id, FOURTH.id]
    assert view.removable == () and not view.can_export
    with pytest.raises(OrgCaseNotFound):  # 市民相談課's manager sees none of them
        view_org_case(emptied, [THIRD, FOURTH], KACHO)
    # Nothing is left to merge in it.
    assert not plan_org_merge(SHIMIN_ORG, emptied, CASES, LEGAL).possible


def test_the_note_of_two_merged_says_where_from() -> None:
    members = [FIRST.id, SECOND.id, THIRD.id, FOURTH.id]
    note = org_merged_note(SHIMIN_ORG.id, members, ZEIMU_ORG.id, [THIRD.id, FOURTH.id])
    parsed = parse_org_note(note)
    assert parsed is not None
    assert (parsed.action, parsed.org_id, parsed.from_org) == (
        "merged",
        SHIMIN_ORG.id,
        ZEIMU_ORG.id,
    )
    assert parsed.members == tuple(members)
    assert f"組織案件 {ZEIMU_ORG.id} の {THIRD.id}, {FOURTH.id} を組織案件 {SHIMIN_ORG.id}" in note
    assert parse_org_note(merged_note(SHIMIN_ORG.id, members, members)).from_org == ""  # type: ignore[union-attr]
