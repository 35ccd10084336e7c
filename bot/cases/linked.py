"""Linked cases: one harasser, one picture.

``links`` is the one lookup of the cases that share a case's counterpart; ``summary``
tells a card how many there are (in how many departments), which of them the viewer may
open (``bot.domain.access``). Grouping them into an organisational case is
``bot.cases.org_cases``'s, which adds its part to the summary.
"""

from __future__ import annotations

from bot.domain.access import CaseAction, Viewer, permits
from bot.domain.incidents import Incident
from bot.domain.linking import (
    FREE_MAIL_DOMAINS,
    Link,
    LinkedCases,
    counterpart_keys,
    departments_of,
    linked_cases,
)
from bot.domain.ports import Store


class LinkedCasesService:
    """Which cases share a counterpart."""

    def __init__(
        self,
        *,
        store: Store,
        free_mail: frozenset[str] = FREE_MAIL_DOMAINS,
    ) -> None:
        self._store = store
        self._free_mail = free_mail

    @property
    def free_mail(self) -> frozenset[str]:
        """The free-mail domains that never link cases (configured)."""
        return self._free_mail

    async def links(self, incident: Incident) -> list[Link]:
        """The other cases sharing a counterpart with ``incident``, oldest first (no access check).

        The store's counterpart index finds the candidates (free-mail domains are left out
        of the keys asked for); ``linked_cases`` says what each shares.
        """
        keys = counterpart_keys(incident.counterparts, self._free_mail)
        if not keys:
            return []
        candidates = await self._store.cases_sharing(keys)
        return linked_cases(incident, candidates, self._free_mail)

    async def summary(
        self, incident: Incident, viewer: Viewer | None, links: list[Link] | None = None
    ) -> LinkedCases:
        """The linked-cases block for ``viewer`` (None: the shared thread card).

        The thread card is seen by the department's channel, so without a viewer only
        cases of the same department are offered as links; counts are always shown.
        ``links``: the caller's ``links(incident)``, if it has them already.
        """
        if links is None:
            links = await self.links(incident)
        if viewer is None:
            openable = [
                link.incident for link in links if link.incident.department == incident.department
            ]
        else:
            openable = [
                link.incident for link in links if permits(viewer, link.incident, CaseAction.SEE)
            ]
        return LinkedCases(
            total=len(links),
            departments=departments_of(links),
            openable=tuple((i.id, i.department) for i in openable),
        )
