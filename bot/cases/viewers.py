"""Who is asking, as the domain's access rule sees them (``bot.domain.access.Viewer``).

The directory (``bot.directory``) resolves the departments a person manages and the
organisation-wide role from the departments configuration; every case list, detail
card and task verb asks here and then lets ``bot.domain.access`` decide.
"""

from __future__ import annotations

from bot.domain.access import Viewer
from bot.domain.incidents import Person
from bot.domain.ports import Directory


class Viewers:
    """Resolves a person's roles now (roles change: only group answers are briefly cached)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def of(self, person: Person) -> Viewer:
        """``person`` with the departments they manage and the roles they hold now."""
        return await self._directory.viewer(person.object_id)
