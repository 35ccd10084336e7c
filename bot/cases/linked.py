"""Linked cases and organisational cases: one harasser, one picture.

``summary`` tells a card how many other cases share this case's counterpart (in how many
departments) and which of them the viewer may open (``bot.domain.access``). ``merge``
lets a manager group linked cases into one organisational case: a record of its members
in the registry and a timeline note on each member. Nothing of any member's evidence log
is touched, so each staff member's chain stays separate and verifies on its own
(``mamoru evidence verify <member>``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.access import CaseAction, Viewer, concerns, permits
from bot.domain.errors import DomainError
from bot.domain.incidents import EventKind, Incident, Person, TimelineEvent
from bot.domain.linking import (
    FREE_MAIL_DOMAINS,
    Link,
    LinkedCases,
    counterpart_keys,
    departments_of,
    linked_cases,
)
from bot.domain.ports import Clock, Registry, Store

log = logging.getLogger(__name__)

ORG_CASE = "org-case"  # key: organisational case id -> {members, by, at}
ORG_MEMBER = "org-member"  # key: member case id -> organisational case id


class MergeRefused(DomainError):
    """The merge cannot be done; ``reason`` is 'own-case' or 'nothing'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OrgCase:
    """An organisational case: the member cases, oldest first."""

    id: str
    members: tuple[str, ...]


def org_case_id(primary: Incident) -> str:
    """The organisational case's id, from its oldest member: ``ORG-KH-2026-0001``."""
    return f"ORG-{primary.id}"


class LinkedCasesService:
    """Which cases share a counterpart, and merging them."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        clock: Clock,
        free_mail: frozenset[str] = FREE_MAIL_DOMAINS,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._free_mail = free_mail

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

    async def summary(self, incident: Incident, viewer: Viewer | None) -> LinkedCases:
        """The linked-cases block for ``viewer`` (None: the shared thread card).

        The thread card is seen by the department's channel, so without a viewer only
        cases of the same department are offered as links; counts are always shown.
        """
        links = await self.links(incident)
        if viewer is None:
            openable = [
                link.incident for link in links if link.incident.department == incident.department
            ]
        else:
            openable = [
                link.incident for link in links if permits(viewer, link.incident, CaseAction.SEE)
            ]
        org = await self._registry.get(ORG_MEMBER, incident.id)
        org_id = str(org["org"]) if org else ""
        members = 0
        if org_id:
            record = await self._registry.get(ORG_CASE, org_id) or {}
            members = len(record.get("members", []))
        mergeable = False
        if viewer is not None and permits(viewer, incident, CaseAction.MANAGE):
            for link in links:
                if permits(viewer, link.incident, CaseAction.MANAGE) and (
                    not org_id or await self._org_of(link.incident.id) != org_id
                ):
                    mergeable = True
                    break
        return LinkedCases(
            total=len(links),
            departments=departments_of(links),
            openable=tuple((i.id, i.department) for i in openable),
            org_case=org_id,
            org_members=members,
            can_merge=bool(mergeable),
        )

    async def _org_of(self, incident_id: str) -> str:
        record = await self._registry.get(ORG_MEMBER, incident_id)
        return str(record["org"]) if record else ""

    async def merge(self, incident_id: str, actor: Person, viewer: Viewer) -> OrgCase:
        """Group ``incident_id`` with the linked cases ``viewer`` may act on; idempotent."""
        incident = await self._store.load_incident(incident_id)
        if concerns(incident, actor.object_id):
            raise MergeRefused("own-case")
        links = await self.links(incident)
        chosen = [incident] + [
            link.incident
            for link in links
            if permits(viewer, link.incident, CaseAction.MANAGE)
            and not concerns(link.incident, actor.object_id)
        ]
        if not permits(viewer, incident, CaseAction.MANAGE) or len(chosen) < 2:
            raise MergeRefused("nothing")
        # Cases already in an organisational case bring their fellow members along.
        existing = {await self._org_of(i.id) for i in chosen} - {""}
        members: dict[str, Incident] = {i.id: i for i in chosen}
        for org_id in existing:
            record = await self._registry.get(ORG_CASE, org_id) or {}
            for member_id in record.get("members", []):
                if member_id not in members:
                    members[member_id] = await self._store.load_incident(member_id)
        ordered = sorted(members.values(), key=lambda i: (i.created_at, i.id))
        org = OrgCase(org_case_id(ordered[0]), tuple(i.id for i in ordered))
        now = self._clock.now()
        await self._registry.put(
            ORG_CASE,
            org.id,
            {
                "members": list(org.members),
                "by": actor.object_id,
                "by_name": actor.display_name,
                "at": now.isoformat(),
            },
        )
        for old in existing - {org.id}:
            await self._registry.put(ORG_CASE, old, {"merged_into": org.id, "members": []})
        for member in ordered:
            if await self._org_of(member.id) == org.id:
                continue
            await self._registry.put(ORG_MEMBER, member.id, {"org": org.id})
            await self._store.add_event(
                member.id,
                TimelineEvent(
                    at=now,
                    actor=actor,
                    kind=EventKind.NOTE,
                    note=f"organisational case {org.id}: {', '.join(org.members)}",
                ),
            )
        log.info("%d cases merged into an organisational case", len(org.members))
        return org

    async def org_case(self, org_id: str) -> OrgCase | None:
        """An organisational case by id."""
        record = await self._registry.get(ORG_CASE, org_id)
        if not record or not record.get("members"):
            return None
        return OrgCase(org_id, tuple(record["members"]))
