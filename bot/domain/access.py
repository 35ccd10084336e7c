"""Who may do what with a case: the one rule every verb, card, command and route applies.

A case holds personal data about both the staff member and the counterpart, so it is
visible only to the people it concerns (its reporter and the staff it targets), the
managers of its department, and organisation-wide roles such as the legal section.
Anyone else is told the case does not exist, exactly as for an id nobody ever used:
whether a case exists is itself not for everyone to know.

Acting for the organisation (deciding, exporting, running or assigning its work) is
for the department's managers only, and never on a case that concerns the manager
themselves: nobody approves their own case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.incidents import Incident


class Role(StrEnum):
    """A role relevant to case access."""

    STAFF = "staff"
    MANAGER = "manager"  # of the departments in ``Viewer.managed_departments``
    LEGAL = "legal"  # organisation-wide (the legal section): sees every case


class CaseAction(StrEnum):
    """What someone may want to do with a case."""

    SEE = "see"  # its card, its place in a list, its evidence summary
    ADD_EVIDENCE = "add-evidence"  # SNS posts and screenshots, notes, monitoring answers
    DECIDE = "decide"  # approve or reject the proposed actions
    EXPORT = "export"  # an evidence bundle for the police, lawyers, the legal section
    MANAGE = "manage"  # resume a job, assign or complete tasks, follow-ups
    MERGE = "merge"  # group it with other cases into an organisational case, or take it out


class Access(StrEnum):
    """The answer of ``access``: allowed, or why not."""

    ALLOWED = "allowed"
    NOT_FOUND = "not-found"  # may not even know the case exists
    NOT_A_MANAGER = "not-a-manager"  # sees the case, but this is its managers' to do
    OWN_CASE = "own-case"  # a manager the case concerns: someone else acts for them


@dataclass(frozen=True, slots=True)
class Viewer:
    """The user asking, with the roles the bot resolved for them (directory, settings)."""

    object_id: str
    roles: frozenset[Role] = frozenset()
    # Departments this user manages; only meaningful with Role.MANAGER.
    managed_departments: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_legal(self) -> bool:
        """Whether the user holds the organisation-wide role (sees every case)."""
        return Role.LEGAL in self.roles

    def manages(self, department: str) -> bool:
        """Whether the user is a manager of ``department``."""
        return Role.MANAGER in self.roles and department in self.managed_departments

    @property
    def is_manager(self) -> bool:
        """Whether the user manages at least one department."""
        return Role.MANAGER in self.roles and bool(self.managed_departments)


def concerns(incident: Incident, object_id: str) -> bool:
    """Whether the case is about this person: they reported it or are one of its targets."""
    if not object_id:
        return False
    return object_id == incident.reporter.object_id or any(
        t.object_id == object_id for t in incident.targets
    )


# Who may do each action, by relation to the case (see the module docstring).
_CONCERNED = frozenset({CaseAction.SEE, CaseAction.ADD_EVIDENCE})
_DEPARTMENT_MANAGER = frozenset(CaseAction)
# The organisation-wide role links cases across departments (bot.domain.org_cases).
_ORGANISATION_WIDE = frozenset(
    {CaseAction.SEE, CaseAction.ADD_EVIDENCE, CaseAction.EXPORT, CaseAction.MERGE}
)


def access(viewer: Viewer, incident: Incident, action: CaseAction) -> Access:
    """Whether ``viewer`` may do ``action`` with ``incident``; if not, what to tell them."""
    own = concerns(incident, viewer.object_id)
    manager = viewer.manages(incident.department)
    if not (own or manager or viewer.is_legal):
        return Access.NOT_FOUND
    if action in _CONCERNED:
        return Access.ALLOWED
    if own:
        # Acting for the organisation on one's own case is never allowed, whatever the role.
        return Access.OWN_CASE if manager or viewer.is_legal else Access.NOT_A_MANAGER
    if manager and action in _DEPARTMENT_MANAGER:
        return Access.ALLOWED
    if viewer.is_legal and action in _ORGANISATION_WIDE:
        return Access.ALLOWED
    return Access.NOT_A_MANAGER


def permits(viewer: Viewer, incident: Incident, action: CaseAction) -> bool:
    """Whether ``access`` allows it."""
    return access(viewer, incident, action) is Access.ALLOWED


def can_view(incident: Incident, viewer: Viewer) -> bool:
    """Whether ``viewer`` may see ``incident`` (the stores' filter)."""
    return permits(viewer, incident, CaseAction.SEE)
