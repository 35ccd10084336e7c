"""「上司にすぐ知らせる」: someone may be in danger; every manager hears of it at once.

One tap records an ``urgent-safety`` incident (with how the triage model read
the message: ``TriageRecord``), opens an URGENT thread in the department's managers' channel that
@mentions each manager, and sends each manager a personal message naming the
staff member and where they are. Nothing here waits for an approval: alerting
people inside the organisation is exactly what the staff member asked for.

Built on the existing pieces (store, registry, messenger, the escalation's
registry kinds) without changing them: the thread is recorded under the same
``THREAD`` kind, so later notices about the case reach the same thread.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bot.cases.escalation import THREAD
from bot.cases.staff_notices import USER
from bot.domain.incidents import JST, IncidentDraft, IncidentState, IncidentType, Person
from bot.domain.locale import Locale
from bot.domain.ports import Clock, DepartmentChannels, Directory, Registry, Store
from bot.domain.triage import TRIAGE_RECORD, TriageRecord
from bot.teams.messenger import Messenger
from cards.urgent import AlertOutcome, Mentioned, manager_alert_card, urgent_thread_card

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """Who pressed the button, where they are (optional), and which click it was."""

    person: Person
    where: str
    alert_id: str  # one alert per card, however often it is clicked
    locale: Locale
    triage: TriageRecord  # how the message was read (NONE when the card was chosen by hand)


class UrgentAlerts:
    """Records the urgent case and alerts the department's managers."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        channels: DepartmentChannels,
        directory: Directory,
        messenger: Messenger,
        clock: Clock,
    ) -> None:
        self._store = store
        self._channels = channels
        self._registry = registry
        self._directory = directory
        self._messenger = messenger
        self._clock = clock

    async def alert(self, request: AlertRequest) -> AlertOutcome:
        """Record the case, post the URGENT thread, message each manager."""
        where = " ".join(request.where.split())[:200]
        # The staff member's own department: its managers are the ones to come.
        department = await self._directory.department_of(request.person.object_id)
        draft = IncidentDraft(
            type=IncidentType.URGENT_SAFETY,
            reporter=request.person,
            department=department,
            summary=f"上司にすぐ知らせる / Alert my managers: {where or '-'}",
            physical_threat=True,
        )
        incident = await self._store.create_incident(
            draft, idempotency_key=f"urgent:{request.alert_id}"
        )
        if await self._registry.get(TRIAGE_RECORD, incident.id) is None:  # a repeated click
            await self._registry.put(
                TRIAGE_RECORD, incident.id, request.triage.stored(self._clock.now())
            )
        if await self._registry.get(THREAD, incident.id):
            # A repeated click: the managers already know; tell the staff member so again.
            return AlertOutcome(incident.id, True, 0)
        managers = await self._managers(department, exclude=request.person.object_id)
        posted = await self._post_thread(incident.id, department, request, where, managers)
        told = await self._tell_managers(incident.id, request, where, managers)
        log.warning(
            "URGENT alert %s: channel %s, %d manager(s) told directly",
            incident.id,
            "posted" if posted else "not set up",
            told,
        )
        return AlertOutcome(incident.id, posted, told)

    async def _managers(self, department: str, *, exclude: str) -> list[tuple[str, dict[str, Any]]]:
        """The department's managers Mamoru knows how to reach (they have talked to it)."""
        users = await self._registry.all(USER)
        found = []
        for object_id, record in sorted(users.items()):
            if object_id == exclude:
                continue
            if (await self._directory.viewer(object_id)).manages(department):
                found.append((object_id, record))
        return found

    async def _post_thread(
        self,
        incident_id: str,
        department: str,
        request: AlertRequest,
        where: str,
        managers: list[tuple[str, dict[str, Any]]],
    ) -> bool:
        channel = await self._channels.channel_of(department)
        if channel is None:
            log.error("URGENT alert %s: no managers' channel registered", incident_id)
            return False
        mentioned = [
            Mentioned(record["teams_id"], record.get("name") or record["teams_id"])
            for _, record in managers
            if record.get("teams_id")
        ]
        card = urgent_thread_card(
            staff_name=request.person.display_name or request.person.object_id,
            where=where,
            at=self._clock.now().astimezone(JST).strftime("%Y-%m-%d %H:%M"),
            incident_id=incident_id,
            managers=mentioned,
            locale=request.locale,
        )
        try:
            posted = await self._messenger.create_thread(
                channel_id=channel.channel_id,
                service_url=channel.service_url,
                tenant_id=channel.tenant_id,
                card=card,
            )
        except Exception as exc:  # the personal messages must still go out
            log.error("URGENT alert %s: thread failed (%s)", incident_id, type(exc).__name__)
            return False
        await self._registry.put(
            THREAD,
            incident_id,
            {
                "conversation_id": posted.conversation_id,
                "activity_id": posted.activity_id,
                "service_url": posted.service_url,
                "locale": request.locale.value,
                "at": self._clock.now().isoformat(),
            },
        )
        incident = await self._store.load_incident(incident_id)
        if incident.can_move_to(IncidentState.ESCALATED):
            await self._store.transition(incident_id, IncidentState.ESCALATED, actor=request.person)
        return True

    async def _tell_managers(
        self,
        incident_id: str,
        request: AlertRequest,
        where: str,
        managers: list[tuple[str, dict[str, Any]]],
    ) -> int:
        async def tell(record: dict[str, Any]) -> bool:
            reference = record.get("reference")
            if not reference:
                return False
            locale = Locale.from_tag(reference.get("locale"))
            card = manager_alert_card(
                staff_name=request.person.display_name or request.person.object_id,
                where=where,
                incident_id=incident_id,
                locale=locale,
            )
            try:
                await self._messenger.send(reference, card)
            except Exception as exc:  # one unreachable manager must not stop the others
                log.error(
                    "URGENT alert %s: a personal message failed (%s)",
                    incident_id,
                    type(exc).__name__,
                )
                return False
            return True

        results = await asyncio.gather(*(tell(record) for _, record in managers))
        return sum(results)
