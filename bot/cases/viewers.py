"""Who is asking, as the domain's access rule sees them (``bot.domain.access.Viewer``).

The one place that turns a Teams user into a ``Viewer``: their roles and the
departments they manage. Every case list, detail card and task verb asks here and
then lets ``can_view`` decide.
"""

from __future__ import annotations

from bot.domain.access import Role, Viewer
from bot.domain.incidents import Person
from bot.domain.ports import Directory


class Viewers:
    """Resolves a person's roles now (roles change: never cached)."""

    def __init__(self, directory: Directory, *, department: str) -> None:
        self._directory = directory
        self._department = department

    async def of(self, person: Person) -> Viewer:
        """``person`` with the manager role and managed departments they hold now."""
        if await self._directory.is_manager(person.object_id):
            return Viewer(
                object_id=person.object_id,
                roles=frozenset({Role.MANAGER}),
                managed_departments=frozenset({self._department}),
            )
        return Viewer(object_id=person.object_id, roles=frozenset({Role.STAFF}))
