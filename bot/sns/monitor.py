"""Spread monitoring: scheduled prompts to the case owner; each answer is an evidence note.

``tick()`` runs every few minutes (a loop started with the app; tests call it with a
moved clock). For each open SNS case it counts the prompts due since the case was
reported (``MonitoringPlan``: daily for a week, then weekly) and sends the latest
one if it has not been sent: an at-most-once marker per case and prompt number, so
several bot instances never send the same prompt and a long outage sends one
prompt, not a backlog.

Both prompts and the legal-clock warnings are at most once on purpose (marker before
the send): a process killed in between loses that one message, and nothing else is
lost with it. A spread prompt is followed by the next one (daily, then weekly); a
legal-clock warning by the next level's, and the case card shows the clock whatever
was sent. The staff notices that must arrive go through the outbox instead
(``bot/cases/staff_notices.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from bot.cases.staff_notices import USER
from bot.domain.access import Role, Viewer
from bot.domain.incidents import Incident, IncidentState, IncidentType, Person
from bot.domain.locale import Locale
from bot.domain.ports import Clock, JobQueue, Registry, Store
from bot.domain.sns import ClockLevel, LegalClock, MonitoringPlan, scan_urls
from bot.domain.sns_capture import Note
from bot.domain.sns_monitor import SpreadObservation, spread_text
from bot.sns.capture import SnsCapture
from cards.i18n import t
from cards.notices import text_card
from cards.sns_monitor import spread_prompt_card

log = logging.getLogger(__name__)
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
        reposts, quotes, copies = (
            int(str(data.get(k, 0) or 0).strip()) for k in ("reposts", "quotes", "copies")
        )
        scan = scan_urls(str(data.get("copy_urls") or ""))
        observation = SpreadObservation(
            reposts,
            quotes,
            copies,
            copy_urls=scan.urls[:50],
            remark=str(data.get("remark") or "").strip()[:1000],
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
        legal_clock: LegalClock | None = None,
        post_to_thread: Callable[..., Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._jobs = jobs
        self._sender = sender
        self._capture = capture
        self._clock = clock
        self._plan = plan
        self._legal = legal_clock or LegalClock()
        self._post_to_thread = post_to_thread

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
            sent += await self._legal_warnings(incident, now)
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

    async def _legal_warnings(self, incident: Incident, now: dt.datetime) -> int:
        """Warn the case owner and the thread once per post as its access-log window closes."""
        sent = 0
        for post in (await self._capture.recorded_posts(incident.id)).values():
            if post.posted_at is None:
                continue
            level = self._legal.level(post.posted_at, now)
            if level is ClockLevel.OK:
                continue
            if not await self._jobs.mark_once(f"sns-clock:{incident.id}:{post.seq}:{level}"):
                continue
            values = {
                "id": incident.id,
                "seq": post.seq,
                "days": self._legal.days_since(post.posted_at, now),
                "window": self._legal.window_days,
                "left": self._legal.days_left(post.posted_at, now),
            }
            key = f"sns.clock.{level.value}"
            record = await self._registry.get(USER, incident.reporter.object_id) or {}
            reference = record.get("reference")
            if reference:
                locale = Locale.from_tag(reference.get("locale"))
                await self._sender.send(reference, text_card(t(key, locale, **values)))
            if self._post_to_thread is not None:
                await self._post_to_thread(incident.id, key, **values)
            log.info("incident %s: legal clock %s for entry %d", incident.id, level, post.seq)
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
