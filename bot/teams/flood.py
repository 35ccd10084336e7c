"""Flood alert buttons: 「証拠保全を始める」 opens a case at once, 「問題ない」 silences the sender.

Only the mailbox's owner (or, for a department mailbox, a manager of its department) may
use them; anyone else who gets hold of the card is told it is not for them. A double
click opens one case: the alert's id is the report's idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from microsoft_agents.hosting.core import TurnContext

from bot.domain.flood import normalise_address
from bot.domain.flood_state import Alert
from bot.domain.incidents import Counterparts, IncidentDraft, IncidentType
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.ports import Clock, Directory, Registry, Store
from bot.domain.triage import NONE, TRIAGE_RECORD
from bot.flood.watch import FloodWatch, WatchedMailbox
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.incidents import person_of
from cards.flood import flood_notice_card, flood_summary
from cards.report import incident_summary_card
from cards.verbs import Verb

log = logging.getLogger(__name__)


def register(
    actions: ActionDispatcher,
    watch: FloodWatch,
    store: Store,
    directory: Directory,
    library: PlaybookLibrary,
    *,
    registry: Registry,
    clock: Clock,
    on_reported: Callable[[str, Locale], Awaitable[None]],
) -> None:
    """Add the flood alert verbs."""

    async def allowed(request: ActionRequest) -> tuple[WatchedMailbox, Alert] | None:
        mailbox = normalise_address(str(request.data.get("mailbox") or ""))
        sender = normalise_address(str(request.data.get("sender") or ""))
        if not mailbox or not sender:
            raise InvalidAction("This card does not name a mailbox and a sender.")
        watched = watch.mailboxes.get(mailbox)
        record = await watch.alert(mailbox, sender)
        if watched is None or record is None or record.id != request.data.get("alert"):
            return None
        clicker = person_of(request.sender).object_id
        if watched.owner_id:
            ok = clicker == watched.owner_id
        else:
            # A department mailbox's managers: those of that department, not any manager.
            ok = (await directory.viewer(clicker)).manages(watched.department)
        return (watched, record) if ok else None

    @actions.on(Verb.FLOOD_START)
    async def start(_context: TurnContext, request: ActionRequest) -> ActionResult:
        found = await allowed(request)
        if found is None:
            return ActionResult(replace=flood_notice_card("flood.not_yours", request.locale))
        watched, record = found
        figures = record.figures
        sender = figures.sender
        draft = IncidentDraft(
            type=IncidentType.MASS_EMAIL,
            reporter=person_of(request.sender),
            # A person's mailbox: the case belongs to their department, as a report would.
            department=watched.department
            if watched.is_department
            else await directory.department_of(watched.owner_id),
            summary=flood_summary(watched.address, figures, request.locale),
            counterparts=Counterparts(emails=(sender,), domains=(sender.rpartition("@")[2],)),
            started_on=figures.first_at.date(),
        )
        incident = await store.create_incident(draft, idempotency_key=f"flood-{record.id}")
        # Opened from a mail-flood alert, not from a staff message: nothing was triaged.
        await registry.put(TRIAGE_RECORD, incident.id, NONE.stored(clock.now()))
        await watch.link_case(watched.address, sender, incident.id)
        await on_reported(incident.id, request.locale)
        log.info("incident %s opened from a flood alert", incident.id)
        return ActionResult(replace=incident_summary_card(incident, library, request.locale))

    @actions.on(Verb.FLOOD_DISMISS)
    async def dismiss(_context: TurnContext, request: ActionRequest) -> ActionResult:
        found = await allowed(request)
        if found is None:
            return ActionResult(replace=flood_notice_card("flood.not_yours", request.locale))
        watched, record = found
        sender = record.figures.sender
        await watch.silence(watched.address, sender, by=person_of(request.sender).object_id)
        return ActionResult(
            replace=flood_notice_card("flood.dismissed", request.locale, sender=sender)
        )
