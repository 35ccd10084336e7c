"""Who may see an incident: the reporter, targeted staff, the department's managers, legal.

Nobody else, including other managers and administrators without the legal role,
because a case holds personal data about both the staff member and the counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.incidents import Incident


class Role(StrEnum):
    """A role relevant to incident access."""

    STAFF = "staff"
    MANAGER = "manager"
    LEGAL = "legal"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The user asking, with the roles the bot resolved for them."""

    object_id: str
    roles: frozenset[Role] = frozenset()
    # Departments this user manages; only meaningful with Role.MANAGER.
    managed_departments: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_legal(self) -> bool:
        """Whether the user holds the legal role (sees every case)."""
        return Role.LEGAL in self.roles

    def manages(self, department: str) -> bool:
        """Whether the user is a manager of ``department``."""
        return Role.MANAGER in self.roles and department in self.managed_departments


def can_view(incident: Incident, viewer: Viewer) -> bool:
    """Whether ``viewer`` may see ``incident``."""
    if viewer.object_id == incident.reporter.object_id:
        return True
    if any(t.object_id == viewer.object_id for t in incident.targets):
        return True
    return viewer.manages(incident.department) or viewer.is_legal
