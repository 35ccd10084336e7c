"""Organisational cases (組織案件): linked cases a manager grouped, one harasser, one picture.

An organisational case groups existing cases (its members) that share a counterpart. It
owns no evidence: each member keeps its own evidence chain, untouched, so each staff
member's record stays separate and verifies on its own. Joining and leaving are appended
to each member's chain as a note (never a rewrite), and membership rows are never deleted:
a member taken out keeps its row with the time and person who took it out.

The rules, on top of ``bot.domain.access``:

- merging (or taking a member out) needs ``CaseAction.MERGE`` on every case involved: a
  department's manager merges their departments' cases, the organisation-wide role merges
  across departments, and nobody merges a case that concerns them;
- the organisational case is visible to whoever may see at least one active member; they
  see those members, and the others only as counts (「他部署の案件 1件」), never their ids,
  people or departments' contents;
- exporting the combined bundle needs ``CaseAction.EXPORT`` on every active member (the
  bundle holds each member's own bundle);
- two organisational cases with the same counterpart merge into the older one (the same
  result whichever side asks): ``CaseAction.MERGE`` on every member of both. Every member
  moves; the emptied one is kept, with who merged it when and which members moved where,
  and is visible to whoever may see one of those members (a pointer, nothing to act on).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.domain.access import Access, CaseAction, Viewer, access, permits
from bot.domain.errors import DomainError
from bot.domain.incidents import Incident, Person
from bot.domain.linking import FREE_MAIL_DOMAINS, counterpart_keys

ORG_PREFIX = "ORG-"
NOTE_MARKER = "org-case:"
_NOTE_LINE = re.compile(
    r"^org-case: (merged|removed) (ORG-[A-Z0-9-]{1,40}) members=([A-Z0-9,-]*)"
    r"(?: from=(ORG-[A-Z0-9-]{1,40}))?$"
)
_ORG_ID = re.compile(r"^ORG-KH-\d{4}-\d{4,9}(-\d{1,3})?$")


class OrgCaseNotFound(DomainError):
    """No organisational case with this id (or the person may not see any of its members)."""

    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisational case {org_id} not found")
        self.org_id = org_id


class MemberElsewhere(DomainError):
    """A case to merge is already a member of another organisational case."""

    def __init__(self, incident_id: str, org_id: str) -> None:
        super().__init__(f"{incident_id} is a member of {org_id}")
        self.incident_id = incident_id
        self.org_id = org_id


@dataclass(frozen=True, slots=True)
class Membership:
    """One case's time in an organisational case; ``left_at`` is set once it was taken out."""

    incident_id: str
    joined_at: dt.datetime
    joined_by: Person
    left_at: dt.datetime | None = None
    left_by: Person | None = None

    @property
    def active(self) -> bool:
        """Whether the case is still a member."""
        return self.left_at is None


@dataclass(frozen=True, slots=True)
class MergedInto:
    """Where an organisational case's members went when it was merged into another."""

    org_id: str
    at: dt.datetime
    by: Person
    moved: tuple[str, ...]  # its members at that moment, all now members of ``org_id``


@dataclass(frozen=True, slots=True)
class OrgCase:
    """An organisational case and the history of its members (oldest membership first).

    ``merged_into`` is set once it was merged into another organisational case: it then has
    no active member and stays as the record of where its members went.
    """

    id: str
    created_at: dt.datetime
    created_by: Person
    memberships: tuple[Membership, ...] = ()
    merged_into: MergedInto | None = None

    @property
    def members(self) -> tuple[str, ...]:
        """The active members' case ids, in the order they joined."""
        return tuple(m.incident_id for m in self.memberships if m.active)


def is_org_case_id(value: object) -> bool:
    """Whether ``value`` has the shape of an organisational case id (``ORG-KH-2026-0001``)."""
    return isinstance(value, str) and bool(_ORG_ID.match(value))


def new_org_case_id(oldest: Incident, taken: Iterable[str]) -> str:
    """The id of a new organisational case, named after its oldest member.

    A case taken out of one organisational case may start another: that one gets a suffix.
    """
    base = f"{ORG_PREFIX}{oldest.id}"
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def merge_access(viewer: Viewer, cases: Sequence[Incident]) -> Access:
    """Whether ``viewer`` may merge all of ``cases``; the first refusal, by severity.

    Not seeing one case is "not found" for the whole request (whether it exists is not for
    them to know); a case that concerns them is "own case"; otherwise "not a manager".
    """
    answers = [access(viewer, case, CaseAction.MERGE) for case in cases]
    for refusal in (Access.NOT_FOUND, Access.OWN_CASE, Access.NOT_A_MANAGER):
        if refusal in answers:
            return refusal
    return Access.ALLOWED


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What a merge would do, exactly as the confirmation shows it.

    ``members``: the cases that will be in the organisational case (the case in view
    first, then the organisational case's members, then the linked cases joining);
    ``org_id``: the organisational case they join ("" for a new one); ``access``: whether
    the viewer may merge every one of them; ``elsewhere``: linked cases that belong to
    another organisational case (left out); ``not_yours``: how many linked cases are left
    out because the viewer may not merge them (counted only, never named).
    """

    members: tuple[Incident, ...]
    access: Access
    org_id: str = ""
    already: tuple[str, ...] = ()  # members already in ``org_id``
    elsewhere: tuple[tuple[str, str], ...] = ()  # (case id, its organisational case)
    not_yours: int = 0

    @property
    def new_members(self) -> tuple[str, ...]:
        """The cases the merge adds."""
        return tuple(i.id for i in self.members if i.id not in self.already)

    @property
    def possible(self) -> bool:
        """Whether the viewer may do it and it changes something (two members, one new)."""
        return self.access is Access.ALLOWED and len(self.members) >= 2 and bool(self.new_members)


def merge_target(
    incident: Incident, linked: Sequence[Incident], viewer: Viewer, org_of: Mapping[str, str]
) -> str:
    """The organisational case a merge from ``incident``'s card joins.

    Its own, if it is in one; else the first one (oldest linked case first) a linked case
    the viewer may merge belongs to; else "" (a new one).
    """
    if org_of.get(incident.id):
        return org_of[incident.id]
    for case in linked:
        if org_of.get(case.id) and permits(viewer, case, CaseAction.MERGE):
            return org_of[case.id]
    return ""


def plan_merge(
    incident: Incident,
    linked: Sequence[Incident],
    viewer: Viewer,
    org_of: Mapping[str, str],
    *,
    into: str = "",
    org_members: Sequence[Incident] = (),
) -> MergePlan:
    """The merge ``viewer`` would do from ``incident``'s card into ``into``.

    ``linked``: the cases sharing its counterpart, oldest first; ``org_of``: the
    organisational case of each case that is in one; ``org_members``: the active members
    of ``into`` (they stay, and the viewer must be allowed to merge them too).
    """
    members: dict[str, Incident] = {incident.id: incident}
    for member in org_members:
        members.setdefault(member.id, member)
    elsewhere: list[tuple[str, str]] = []
    not_yours = 0
    for case in linked:
        if case.id in members:
            continue
        if not permits(viewer, case, CaseAction.MERGE):
            not_yours += 1
        elif org_of.get(case.id, into) != into:
            elsewhere.append((case.id, org_of[case.id]))
        else:
            members[case.id] = case
    chosen = tuple(members.values())
    if org_of.get(incident.id, into) != into:
        # The case in view is itself in another organisational case: nothing to plan.
        return MergePlan((incident,), Access.NOT_A_MANAGER, into)
    return MergePlan(
        members=chosen,
        access=merge_access(viewer, chosen),
        org_id=into,
        already=tuple(i for i in members if into and org_of.get(i) == into),
        elsewhere=tuple(elsewhere),
        not_yours=not_yours,
    )


class OrgCaseChanged(DomainError):
    """The organisational cases to merge no longer have the members the confirmation showed."""

    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisational case {org_id} changed")
        self.org_id = org_id


def survivor(first: OrgCase, second: OrgCase) -> tuple[OrgCase, OrgCase]:
    """(the one that stays, the one emptied into it): the older stays, whichever side asks."""
    ordered = sorted((first, second), key=lambda o: (o.created_at, o.id))
    return ordered[0], ordered[1]


@dataclass(frozen=True, slots=True)
class OrgMergePlan:
    """Merging two organisational cases, exactly as the confirmation shows it.

    ``into`` stays; every member of ``absorbed`` moves into it (``moving``); ``members``:
    ``into``'s members then the moving ones, the list after the merge; ``access``: whether
    the viewer may merge every one of them.
    """

    into: OrgCase
    absorbed: OrgCase
    members: tuple[Incident, ...]
    access: Access

    @property
    def moving(self) -> tuple[str, ...]:
        """The cases that move from ``absorbed`` into ``into``."""
        return self.absorbed.members

    @property
    def possible(self) -> bool:
        """Whether the viewer may do it and it changes something."""
        return (
            self.access is Access.ALLOWED
            and self.into.id != self.absorbed.id
            and bool(self.into.members)
            and bool(self.moving)
        )


def plan_org_merge(
    first: OrgCase,
    second: OrgCase,
    members: Mapping[str, Incident],
    viewer: Viewer,
) -> OrgMergePlan:
    """What merging ``first`` and ``second`` would do for ``viewer``.

    ``members``: the active members of both, by id. Needs MERGE on every one of them, so
    whoever may do it sees every case the confirmation lists.
    """
    into, absorbed = survivor(first, second)
    ordered = tuple(members[i] for i in (*into.members, *absorbed.members) if i in members)
    if len(ordered) != len(into.members) + len(absorbed.members):
        raise ValueError("plan_org_merge needs every active member of both cases")
    return OrgMergePlan(into, absorbed, ordered, merge_access(viewer, ordered))


@dataclass(frozen=True, slots=True)
class OrgCaseView:
    """An organisational case as one viewer may see it."""

    org: OrgCase
    visible: tuple[Incident, ...]  # active members the viewer may see, oldest first
    hidden_other_departments: int  # active members they may not see, in other departments
    hidden_same_department: int  # active members they may not see, in a department they see
    counterpart: tuple[str, ...]  # the counterpart keys every active member shares
    removable: tuple[str, ...]  # visible members the viewer may take out (MERGE on each)
    can_export: bool  # may export the combined bundle (EXPORT on every member)
    # Other organisational cases with the same counterpart that the viewer may merge with
    # this one (filled by the service, which looks the links up).
    mergeable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrgTotals:
    """Counts over every active member (counts only: nobody's personal data)."""

    mails: int  # mails preserved in the members' evidence
    sns_posts: int
    tasks_open: int
    tasks_total: int


def view_org_case(
    org: OrgCase,
    members: Sequence[Incident],
    viewer: Viewer,
    free_mail: frozenset[str] = FREE_MAIL_DOMAINS,
) -> OrgCaseView:
    """``org`` for ``viewer``; ``OrgCaseNotFound`` unless they may see one active member.

    For an organisational case merged into another, ``members`` are the ones that moved:
    whoever may see one of them sees where they went, and may act on nothing there.
    """
    visible = sorted(
        (m for m in members if permits(viewer, m, CaseAction.SEE)),
        key=lambda i: (i.created_at, i.id),
    )
    if not visible:
        raise OrgCaseNotFound(org.id)
    seen_departments = {i.department for i in visible}
    hidden = [m for m in members if not permits(viewer, m, CaseAction.SEE)]
    return OrgCaseView(
        org=org,
        visible=tuple(visible),
        hidden_other_departments=sum(m.department not in seen_departments for m in hidden),
        hidden_same_department=sum(m.department in seen_departments for m in hidden),
        counterpart=shared_counterpart(members, free_mail),
        removable=()
        if org.merged_into
        else tuple(m.id for m in visible if permits(viewer, m, CaseAction.MERGE)),
        can_export=not org.merged_into
        and bool(members)
        and all(permits(viewer, m, CaseAction.EXPORT) for m in members),
    )


def shared_counterpart(
    members: Sequence[Incident], free_mail: frozenset[str] = FREE_MAIL_DOMAINS
) -> tuple[str, ...]:
    """The counterpart keys all ``members`` share (``email:…``, ``domain:…``, ``sns:…``)."""
    if not members:
        return ()
    keys = counterpart_keys(members[0].counterparts, free_mail)
    for member in members[1:]:
        keys &= counterpart_keys(member.counterparts, free_mail)
    return tuple(sorted(keys))


# --- The note each member's evidence chain gets (append-only, machine-readable first line)


@dataclass(frozen=True, slots=True)
class OrgCaseNote:
    """What a member's chain records: joined or left, which organisational case, its members."""

    action: str  # "merged" | "removed"
    org_id: str
    members: tuple[str, ...]  # after the change
    from_org: str = ""  # set when two organisational cases merged: the emptied one


def merged_note(org_id: str, members: Sequence[str], joined: Sequence[str]) -> str:
    """The evidence note recording that ``joined`` were merged into ``org_id``."""
    return "\n".join(
        [
            f"{NOTE_MARKER} merged {org_id} members={','.join(members)}",
            f"【組織案件】{', '.join(joined)} を組織案件 {org_id} にまとめました"
            f"（構成: {', '.join(members)}）。",
            "各案件の証拠の記録はそれぞれ別のまま残り、個別に検証できます。",
        ]
    )


def org_merged_note(into: str, members: Sequence[str], absorbed: str, moved: Sequence[str]) -> str:
    """The evidence note recording that ``absorbed``'s members ``moved`` into ``into``."""
    return "\n".join(
        [
            f"{NOTE_MARKER} merged {into} members={','.join(members)} from={absorbed}",
            f"【組織案件】組織案件 {absorbed} の {', '.join(moved)} を組織案件 {into} に"
            f"まとめました（構成: {', '.join(members)}）。{absorbed} は {into} にまとめた"
            "記録として残ります。",
            "各案件の証拠の記録はそれぞれ別のまま残り、個別に検証できます。",
        ]
    )


def removed_note(org_id: str, members: Sequence[str], removed: str) -> str:
    """The evidence note recording that ``removed`` was taken out of ``org_id``."""
    rest = ", ".join(members) if members else "なし"
    return "\n".join(
        [
            f"{NOTE_MARKER} removed {org_id} members={','.join(members)}",
            f"【組織案件】{removed} を組織案件 {org_id} から外しました（残る構成: {rest}）。",
            "記録は削除していません。",
        ]
    )


def parse_org_note(text: str) -> OrgCaseNote | None:
    """The organisational-case change a note records, or None for any other note."""
    match = _NOTE_LINE.match(text.partition("\n")[0])
    if match is None:
        return None
    members = tuple(m for m in match[3].split(",") if m)
    return OrgCaseNote(match[1], match[2], members, match[4] or "")
