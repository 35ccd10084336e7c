"""Spread monitoring: scheduled prompts to the case owner; each answer is an evidence note.

``tick()`` runs every few minutes (a loop started with the app; tests call it with a
moved clock). For each open SNS case it counts the prompts due since the case was
reported (``MonitoringPlan``: daily for a week, then weekly) and sends the latest
one if it has not been sent: an at-most-once marker per case and prompt number, so
several bot instances never send the same prompt and a long outage sends one
prompt, not a backlog.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from bot.domain.access import Role, Viewer
from bot.domain.incidents import IncidentState, IncidentType, Person
from bot.domain.locale import Locale
from bot.domain.ports import Clock, JobQueue, Registry, Store
from bot.domain.sns import MonitoringPlan, scan_urls
from bot.domain.sns_capture import Note
from bot.domain.sns_monitor import SpreadObservation, spread_text
from bot.sns.capture import SnsCapture
from cards.sns_monitor import spread_prompt_card

log = logging.getLogger(__name__)
USER = "user"  # where Teams users are remembered (bot.escalation.USER)
MAMORU = Viewer(object_id="mamoru", roles=frozenset({Role.LEGAL}))  # the scheduler sees all
_CLOSED = {IncidentState.CLOSED, IncidentState.REJECTED}
MAX_CASES = 1000


class CardSender(Protocol):
    """Sends a card into a stored conversation (``bot.teams.messenger.Messenger``)."""

    async def send(self, reference: dict[str, Any], card: dict[str, Any]) -> Any:
        """Send ``card`` to ``reference``."""
        ...


class InvalidSpread(Exception):
    """The answer's counts are not whole numbers in range."""


def parse_observation(data: Mapping[str, Any]) -> tuple[SpreadObservation, list[Note]]:
    """The observation in the prompt's submit data; raises ``InvalidSpread``."""
    try:
        counts = [int(str(data.get(k, 0) or 0).strip()) for k in ("reposts", "quotes", "copies")]
        scan = scan_urls(str(data.get("copy_urls") or ""))
        observation = SpreadObservation(
            *counts, copy_urls=scan.urls[:50], remark=str(data.get("remark") or "").strip()[:1000]
        )
    except ValueError as exc:
        raise InvalidSpread(str(exc)) from None
    notes = [Note(f"sns.url.{reason}", {"text": piece}) for piece, reason in scan.refused]
    return observation, notes


class SpreadMonitor:
    """Sends the spread prompts that are due, and records the answers."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        jobs: JobQueue,
        sender: CardSender,
        capture: SnsCapture,
        clock: Clock,
        plan: MonitoringPlan,
    ) -> None:
        self._store = store
        self._registry = registry
        self._jobs = jobs
        self._sender = sender
        self._capture = capture
        self._clock = clock
        self._plan = plan

    async def tick(self) -> int:
        """Send every prompt due now; returns how many were sent."""
        now = self._clock.now()
        schedule = self._plan.due_times(now)
        oldest = now - (schedule[-1] - now if schedule else dt.timedelta(0))
        sent = 0
        for incident in await self._store.list_incidents(MAMORU, limit=MAX_CASES):
            if incident.created_at < oldest - dt.timedelta(days=1):
                break  # newest first: every older case is past its last prompt
            if incident.type is not IncidentType.SNS_DEFAMATION or incident.state in _CLOSED:
                continue
            due = sum(1 for at in self._plan.due_times(incident.created_at) if at <= now)
            if due < 1:
                continue
            record = await self._registry.get(USER, incident.reporter.object_id) or {}
            reference = record.get("reference")
            if not reference:
                continue  # not reachable yet; asked at the next tick once they have talked to us
            if not await self._jobs.mark_once(f"sns-monitor:{incident.id}:{due}"):
                continue
            locale = Locale.from_tag(reference.get("locale"))
            await self._sender.send(reference, spread_prompt_card(incident.id, due, locale))
            log.info("incident %s: spread prompt %d sent", incident.id, due)
            sent += 1
        return sent

    async def record(
        self, person: Person, case_id: str, prompt: int, observation: SpreadObservation
    ) -> int:
        """Record an answer on the case; returns the evidence entry number."""
        return await self._capture.record_note(
            person, case_id, spread_text(observation, prompt=prompt)
        )

    async def run_forever(self, interval: dt.timedelta) -> None:
        """Tick every ``interval`` until cancelled; a failed tick is logged, not fatal."""
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the loop must survive a database hiccup
                log.error("spread monitoring failed: %s", type(exc).__name__)
            await asyncio.sleep(interval.total_seconds())
