"""Opening a case for someone: the directory says who they are, the domain rule decides.

Every entry point that names a case (a card's verb, a refresh, a command, an HTTP
route) opens it here. A person who may not see the case gets ``IncidentNotFound``,
the very error an unknown id raises, so the answer cannot tell the two apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.access import Access, CaseAction, Viewer, access
from bot.domain.errors import DomainError, IncidentNotFound
from bot.domain.incidents import Incident, Person
from bot.domain.ports import Directory, Store

log = logging.getLogger(__name__)


class CaseRefused(DomainError):
    """The person sees the case but may not do this with it (``reason``: an ``Access``)."""

    def __init__(self, incident_id: str, reason: Access) -> None:
        super().__init__(f"{reason.value} on incident {incident_id}")
        self.incident_id = incident_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A case in the hands of someone allowed to see it."""

    incident: Incident
    viewer: Viewer

    def may(self, action: CaseAction) -> bool:
        """Whether the viewer may also do ``action`` with it."""
        return access(self.viewer, self.incident, action) is Access.ALLOWED


class CaseAccess:
    """Opens cases for people, applying ``bot.domain.access.access``."""

    def __init__(self, store: Store, directory: Directory) -> None:
        self._store = store
        self.directory = directory

    async def viewer(self, person: Person) -> Viewer:
        """``person`` with the roles they hold now."""
        return await self.directory.viewer(person.object_id)

    async def open(
        self, incident_id: str, person: Person, action: CaseAction = CaseAction.SEE
    ) -> OpenCase:
        """The case if ``person`` may do ``action``; ``IncidentNotFound`` if they may not
        see it (or it does not exist); ``CaseRefused`` if they see it but may not act."""
        viewer = await self.viewer(person)
        incident = await self._store.load_incident(incident_id)
        answer = access(viewer, incident, action)
        if answer is Access.NOT_FOUND:
            log.info("case access refused: not visible to the requester")
            raise IncidentNotFound(incident_id)
        if answer is not Access.ALLOWED:
            raise CaseRefused(incident_id, answer)
        return OpenCase(incident, viewer)

    async def may(self, incident_id: str, person: Person, action: CaseAction) -> bool:
        """Whether ``person`` may do ``action`` with the case now (an unknown case: no)."""
        try:
            await self.open(incident_id, person, action)
        except (IncidentNotFound, CaseRefused):
            return False
        return True
