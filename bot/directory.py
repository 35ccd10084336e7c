"""Who someone is to Mamoru: the departments they manage, their own department, legal role.

Configured ids are read from the organisation (``bot.departments``); group membership is
asked of Microsoft Graph (briefly cached), so a manager removed from a group loses the
buttons on the next card refresh.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bot.domain.access import Role, Viewer
from bot.domain.departments import Members, Organisation

GroupCheck = Callable[[str, str], Awaitable[bool]]  # (group id, object id) -> member?


class OrganisationDirectory:
    """``Directory``: the configured departments and roles, groups checked through Graph."""

    def __init__(
        self,
        organisation: Organisation,
        *,
        group_check: GroupCheck | None = None,
        cache_seconds: float = 60.0,
    ) -> None:
        self.organisation = organisation
        self._group_check = group_check
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def viewer(self, object_id: str) -> Viewer:
        """The person with the roles they hold now (asked every time: roles change)."""
        if not object_id:
            return Viewer(object_id="")
        managed = frozenset(
            [d.id for d in self.organisation.departments if await self._in(d.managers, object_id)]
        )
        roles = {Role.STAFF}
        if managed:
            roles.add(Role.MANAGER)
        if await self._in(self.organisation.legal, object_id):
            roles.add(Role.LEGAL)
        return Viewer(object_id, frozenset(roles), managed)

    async def is_manager(self, object_id: str) -> bool:
        """Whether the person manages at least one department."""
        return (await self.viewer(object_id)).is_manager

    async def department_of(self, object_id: str) -> str:
        """The department whose staff the person is (managers: the one they manage)."""
        for department in self.organisation.departments:
            if await self._in(department.staff, object_id):
                return department.id
        for department in self.organisation.departments:
            if await self._in(department.managers, object_id):
                return department.id
        return self.organisation.default_department

    def department_name(self, department_id: str) -> str:
        """The department's display name."""
        return self.organisation.name_of(department_id)

    async def _in(self, members: Members, object_id: str) -> bool:
        if not object_id:
            return False
        if object_id in members.ids:
            return True
        if not (members.group_id and self._group_check):
            return False
        key = (members.group_id, object_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        member = await self._group_check(members.group_id, object_id)
        self._cache[key] = (now, member)
        return member
