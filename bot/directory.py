"""Who is a manager: Entra object ids from the settings, and/or members of an Entra group.

Group membership is asked of Microsoft Graph each time (briefly cached), so a manager
removed from the group loses the buttons on the next card refresh.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

GroupCheck = Callable[[str, str], Awaitable[bool]]  # (group id, object id) -> member?


class ManagerDirectory:
    """``Directory``: configured manager ids, plus an optional group checked through Graph."""

    def __init__(
        self,
        manager_ids: frozenset[str],
        *,
        group_id: str = "",
        group_check: GroupCheck | None = None,
        cache_seconds: float = 60.0,
    ) -> None:
        self._ids = manager_ids
        self._group_id = group_id
        self._group_check = group_check
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, bool]] = {}

    async def is_manager(self, object_id: str) -> bool:
        """Whether ``object_id`` is configured as a manager or is in the managers' group."""
        if not object_id:
            return False
        if object_id in self._ids:
            return True
        if not (self._group_id and self._group_check):
            return False
        now = time.monotonic()
        cached = self._cache.get(object_id)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        member = await self._group_check(self._group_id, object_id)
        self._cache[object_id] = (now, member)
        return member
