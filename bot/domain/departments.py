"""Departments: who manages which staff, and the organisation-wide roles.

A department has managers (Entra object ids and/or an Entra group) and staff (ids
and/or a group); its managers' Teams channel is registered with ``setup`` there.
A case belongs to its reporter's department, and only that department's managers
decide it (``bot.domain.access``). The organisation-wide role (the legal section)
sees every case. Configured by IT (``MAMORU_DEPARTMENTS_FILE``; see ``bot.departments``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Members:
    """A set of people: Entra object ids, plus the members of an Entra group if set."""

    ids: frozenset[str] = field(default_factory=frozenset)
    group_id: str = ""

    def is_empty(self) -> bool:
        """Whether nobody can be in it."""
        return not (self.ids or self.group_id)


@dataclass(frozen=True, slots=True)
class Department:
    """One department: the key cases carry, its name, its managers and its staff."""

    id: str
    name: str
    managers: Members
    staff: Members = field(default_factory=Members)


@dataclass(frozen=True, slots=True)
class Organisation:
    """Every department, where unlisted staff report, and the organisation-wide role."""

    departments: tuple[Department, ...]
    default_department: str  # the department of staff listed in none
    legal: Members = field(default_factory=Members)

    def __post_init__(self) -> None:
        ids = [d.id for d in self.departments]
        if len(set(ids)) != len(ids):
            raise ValueError("each department needs its own id")
        if self.departments and self.default_department not in ids:
            raise ValueError(
                f"the default department {self.default_department!r} is not one of the "
                f"departments ({', '.join(ids)})"
            )

    def get(self, department_id: str) -> Department | None:
        """The department with this id, if configured."""
        return next((d for d in self.departments if d.id == department_id), None)

    def name_of(self, department_id: str) -> str:
        """The department's display name (its id if unknown)."""
        department = self.get(department_id)
        return department.name if department else department_id


@dataclass(frozen=True, slots=True)
class ManagersChannel:
    """The Teams channel where a department's cases arrive (registered with ``setup``)."""

    department: str
    channel_id: str
    service_url: str
    tenant_id: str
    registered_by: str  # Entra object id of the manager who ran setup
    registered_at: dt.datetime
