"""Flood watch: new-mail metadata of opted-in mailboxes in, one proactive card per flood out.

The application service between the ``InboxFeed`` port (Graph delta rounds and change
notifications), the detection rule (``bot.domain.flood``), its state (``FloodState``:
position, subscription, counts and alerts in their own tables) and the messenger. How it
stays correct:

- a notification is only a poke: it makes the mailbox's delta round run (debounced,
  one at a time per mailbox), so replayed, duplicated or out-of-order notifications cost
  at most one extra request and count nothing twice (messages are counted by id, and the
  ids counted are kept with the counts, so a round replayed after a restart is harmless);
- the delta round also runs on a timer, which closes any gap (missed notifications,
  an expired subscription) and is the only source where no public endpoint exists;
- an alert is recorded before its card is sent (at most one card per flood);
- a mailbox Graph refuses (out of the IT-defined scope) or that leaves the configured
  list stops being watched, and its owner or managers are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.background import DRAIN_SECONDS, BackgroundWork
from bot.domain.flood import (
    FeedReset,
    FloodFigures,
    FloodThresholds,
    InboxFeed,
    MailboxOutOfScope,
    SubscriptionGone,
    address_domain,
    due_for_alert,
    floods,
    normalise_address,
)
from bot.domain.flood_state import Alert, FloodState, Subscription, WatchState
from bot.domain.locale import Locale
from bot.domain.mailbox import MailboxError
from bot.domain.ports import Clock, DepartmentChannels, Registry
from cards.flood import flood_alert_card, flood_notice_card

log = logging.getLogger(__name__)

USER = "user"  # the escalation registry's people (conversation references)
SUBSCRIPTION_LIFETIME = dt.timedelta(days=3)
RENEW_BEFORE = dt.timedelta(hours=12)
RETRY_STOPPED_AFTER = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class WatchedMailbox:
    """A mailbox in the flood watch: a person's (``owner_id``) or a department's."""

    address: str
    owner_id: str = ""  # Entra object id of the person; empty for a department mailbox
    department: str = ""

    @property
    def is_department(self) -> bool:
        """Whether the managers' channel, not a person, hears about floods here."""
        return not self.owner_id


def parse_watch_list(text: str, *, default_department: str) -> list[WatchedMailbox]:
    """``MAMORU_FLOOD_MAILBOXES``: ``upn=<owner object id>`` or ``upn=dept:<department>``."""
    out: list[WatchedMailbox] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        address, _, who = entry.partition("=")
        address = normalise_address(address)
        if "@" not in address:
            raise ValueError(f"flood watch: '{address}' is not a mailbox address")
        who = who.strip()
        if who.startswith("dept:"):
            out.append(WatchedMailbox(address, department=who[5:].strip() or default_department))
        elif who:
            out.append(WatchedMailbox(address, owner_id=who, department=default_department))
        else:
            out.append(WatchedMailbox(address, department=default_department))
    return out


class CardSender(Protocol):
    """Sends cards outside a user's turn (``bot.teams.messenger.Messenger``)."""

    async def send(self, reference: dict[str, Any], card: dict[str, Any]) -> Any:
        """Send into a stored conversation."""
        ...

    async def create_thread(
        self, *, channel_id: str, service_url: str, tenant_id: str, card: dict[str, Any]
    ) -> Any:
        """Open a channel thread."""
        ...


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where Graph posts change and lifecycle notifications (a public https URL)."""

    notifications: str
    lifecycle: str


class FloodWatch:
    """Watches the configured mailboxes and announces floods."""

    def __init__(
        self,
        *,
        feed: InboxFeed,
        state: FloodState,
        registry: Registry,  # people's conversation references (USER records)
        sender: CardSender,
        clock: Clock,
        mailboxes: list[WatchedMailbox],
        thresholds: FloodThresholds,
        endpoints: Endpoints | None,
        internal_domains: frozenset[str] = frozenset(),
        channels: DepartmentChannels | None = None,  # the managers' channels (fallback)
        poll_interval: dt.timedelta = dt.timedelta(minutes=5),
        debounce: float = 2.0,
    ) -> None:
        self._feed = feed
        self._state = state
        self._registry = registry
        self._channels = channels
        self._sender = sender
        self._clock = clock
        self.mailboxes = {m.address: m for m in mailboxes}
        self.thresholds = thresholds
        self._endpoints = endpoints
        # Colleagues are never counted: the watched mailboxes' own domains, plus any given.
        self._internal = internal_domains | {address_domain(m.address) for m in mailboxes}
        self._poll = poll_interval
        self.debounce = debounce
        self._locks: dict[str, asyncio.Lock] = {}
        self._dirty: set[str] = set()
        self._background = BackgroundWork("flood watch task failed")  # the next timer round retries
        self.requests = 0  # Graph requests made by delta rounds (benchmarks)
        # The department of a mailbox's owner (the directory), for the managers' fallback.
        self.department_of: Callable[[str], Awaitable[str]] | None = None
        self.on_alert: list[Callable[[WatchedMailbox, FloodFigures], Awaitable[None]]] = []

    # --- delta rounds

    async def sync(self, mailbox: str) -> list[FloodFigures]:
        """Run one delta round for ``mailbox`` now; returns the floods announced."""
        lock = self._locks.setdefault(mailbox, asyncio.Lock())
        async with lock:
            return await self._sync_locked(mailbox)

    async def _sync_locked(self, mailbox: str) -> list[FloodFigures]:
        watched = self.mailboxes.get(mailbox)
        state = await self._state.watch_state(mailbox)
        if watched is None or state.stopped:
            return []
        now = self._clock.now()
        cursor = state.cursor or None
        try:
            try:
                round_ = await self._feed.new_mail(
                    mailbox, cursor=cursor, since=now - dt.timedelta(days=1)
                )
            except FeedReset:
                log.info("flood watch: delta state lost, starting a new round")
                round_ = await self._feed.new_mail(
                    mailbox, cursor=None, since=now - dt.timedelta(days=1)
                )
        except MailboxOutOfScope:
            await self.stop(mailbox, reason="scope")
            return []
        except MailboxError as exc:
            log.warning("flood watch: delta round failed (%s)", exc.code or type(exc).__name__)
            return []
        self.requests += round_.requests
        counted = await self._state.record_round(
            mailbox,
            cursor=round_.cursor,
            at=now,
            sightings=round_.sightings,
            internal=frozenset(self._internal),
        )
        announced = []
        for figures in floods(counted.tally, counted.changed, now=now, thresholds=self.thresholds):
            if await self._announce(watched, figures):
                announced.append(figures)
        return announced

    async def _announce(self, watched: WatchedMailbox, figures: FloodFigures) -> bool:
        record = await self._state.alert(watched.address, figures.sender)
        if record is not None and record.silenced:
            return False
        now = self._clock.now()
        last = record.at if record is not None else None
        if not due_for_alert(last, now=now, thresholds=self.thresholds):
            return False
        alert_id = secrets.token_hex(8)
        # Recorded before the card goes out: a crash in between loses a card, never doubles it.
        await self._state.announce(watched.address, Alert(alert_id, now, figures))
        log.info("flood watch: a sender crossed %s", ",".join(figures.rules))
        await self._deliver(
            watched,
            lambda locale: flood_alert_card(
                watched.address,
                figures,
                locale,
                alert_id=alert_id,
                for_managers=watched.is_department,
            ),
        )
        for listener in self.on_alert:
            await listener(watched, figures)
        return True

    async def _deliver(
        self, watched: WatchedMailbox, card_for: Callable[[Locale], dict[str, Any]]
    ) -> bool:
        """To the owner's personal chat, else (department mailbox, unreachable) the channel."""
        if watched.owner_id:
            user = await self._registry.get(USER, watched.owner_id)
            reference = (user or {}).get("reference")
            if reference:
                locale = Locale.from_tag(reference.get("locale"))
                await self._sender.send(reference, card_for(locale))
                return True
            log.info("flood watch: mailbox owner not reachable; telling the managers")
        department = watched.department
        if watched.owner_id and self.department_of is not None:
            department = await self.department_of(watched.owner_id)
        channel = await self._channels.channel_of(department) if self._channels else None
        if channel is None:
            log.warning("flood watch: no managers' channel for the mailbox's department")
            return False
        await self._sender.create_thread(
            channel_id=channel.channel_id,
            service_url=channel.service_url,
            tenant_id=channel.tenant_id,
            card=card_for(Locale.JA),
        )
        return True

    # --- scope

    async def stop(self, mailbox: str, *, reason: str) -> None:
        """Stop watching ``mailbox`` (out of scope, or unconfigured) and say so, once."""
        state = await self._state.watch_state(mailbox)
        if state.stopped:
            return
        if state.subscription is not None:
            # If this fails it expires on its own within days; nothing reads it any more.
            with contextlib.suppress(MailboxError):
                await self._feed.unsubscribe(state.subscription.id)
        await self._state.stop(mailbox, reason=reason, at=self._clock.now())
        log.warning("flood watch stopped for a mailbox (%s)", reason)
        watched = self.mailboxes.get(mailbox) or WatchedMailbox(mailbox, department="")
        await self._deliver(
            watched, lambda locale: flood_notice_card("flood.stopped." + reason, locale, mailbox)
        )

    # --- subscriptions

    async def ensure_subscription(self, mailbox: str) -> None:
        """Subscribe, or renew before expiry; a lost subscription is replaced and its gap read."""
        if self._endpoints is None:
            return
        state = await self._state.watch_state(mailbox)
        if state.stopped:
            return
        now = self._clock.now()
        sub = state.subscription
        try:
            if sub is not None and sub.expires_at - now > RENEW_BEFORE:
                return
            if sub is not None and sub.expires_at > now:
                try:
                    renewed = await self._feed.renew(sub.id, now + SUBSCRIPTION_LIFETIME)
                    await self._state.set_subscription(
                        mailbox, replace(sub, expires_at=renewed.expires_at)
                    )
                    return
                except SubscriptionGone:
                    pass
            client_state = secrets.token_urlsafe(32)
            created = await self._feed.subscribe(
                mailbox,
                notification_url=self._endpoints.notifications,
                lifecycle_url=self._endpoints.lifecycle,
                client_state=client_state,
                expires_at=now + SUBSCRIPTION_LIFETIME,
            )
        except MailboxOutOfScope:
            await self.stop(mailbox, reason="scope")
            return
        except MailboxError as exc:
            log.warning("flood watch: subscription failed (%s)", exc.code or type(exc).__name__)
            return
        await self._state.set_subscription(
            mailbox, Subscription(created.id, created.expires_at, client_state)
        )
        if sub is not None:
            await self.sync(mailbox)  # what arrived while no subscription existed

    # --- notifications (the web endpoint hands them over)

    async def on_notifications(self, payload: Mapping[str, Any]) -> int:
        """Accept notifications whose subscription and clientState match; returns how many."""
        items = payload.get("value") if isinstance(payload, Mapping) else None
        accepted: set[str] = set()
        count = 0
        for item in items if isinstance(items, list) else []:
            mailbox = await self._mailbox_of(item)
            if mailbox is None:
                continue
            count += 1
            accepted.add(mailbox)
            event = item.get("lifecycleEvent")
            if event in {"reauthorizationRequired", "subscriptionRemoved"}:
                sub = (await self._state.watch_state(mailbox)).subscription
                if event == "subscriptionRemoved" or sub is None:
                    await self._state.set_subscription(mailbox, None)
                else:  # renew now: move the expiry inside the renewal margin
                    await self._state.set_subscription(
                        mailbox, replace(sub, expires_at=self._clock.now())
                    )
                self._background.spawn(
                    self.ensure_subscription(mailbox), name="subscription renewal"
                )
        for mailbox in accepted:
            self.request_sync(mailbox)
        if items and count < len(items):
            log.warning("flood watch: %d notification(s) refused", len(items) - count)
        return count

    async def _mailbox_of(self, item: Any) -> str | None:
        if not isinstance(item, Mapping):
            return None
        sub_id, given = item.get("subscriptionId"), item.get("clientState")
        if not isinstance(sub_id, str) or not isinstance(given, str):
            return None
        found = await self._state.mailbox_of_subscription(sub_id)
        if found is None or found[0] not in self.mailboxes:
            return None
        mailbox, expected = found
        # Constant time: the clientState is the notification's only proof of origin.
        if expected and hmac.compare_digest(expected.encode(), given.encode()):
            return mailbox
        return None

    def request_sync(self, mailbox: str) -> None:
        """Run a delta round soon; many pokes within the debounce make one round."""
        if mailbox in self._dirty:
            return
        self._dirty.add(mailbox)

        async def later() -> None:
            await asyncio.sleep(self.debounce)
            self._dirty.discard(mailbox)
            await self.sync(mailbox)

        self._background.spawn(later(), name="delta round")

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for pending rounds (tests, shutdown); ``PendingWork`` if stuck."""
        await self._background.drain(timeout)

    # --- the timer

    async def tick(self) -> None:
        """Subscriptions kept alive; a delta round where none ran for the poll interval."""
        now = self._clock.now()
        known = await self._state.watched()
        for mailbox, state in known.items():
            if mailbox not in self.mailboxes and not state.stopped:
                await self.stop(mailbox, reason="removed")
        for mailbox in self.mailboxes:
            state = known.get(mailbox, WatchState())
            if state.stopped:
                stopped = state.stopped_at or now
                if state.reason != "scope" or now - stopped < RETRY_STOPPED_AFTER:
                    continue
                await self._state.restart(mailbox)  # back in scope? try again
                state = WatchState()
            await self.ensure_subscription(mailbox)
            last = state.last_sync
            if last is None or now - last >= self._poll:
                await self.sync(mailbox)

    async def run_forever(self, interval: dt.timedelta) -> None:
        """``tick`` every ``interval`` until cancelled."""
        while True:
            try:
                await self.tick()
            except Exception as exc:  # keep watching: one bad round must not end the loop
                log.error("flood watch tick failed: %s", type(exc).__name__)
            await asyncio.sleep(interval.total_seconds())

    # --- decisions from the card

    async def alert(self, mailbox: str, sender: str) -> Alert | None:
        """The recorded alert of ``sender`` in ``mailbox``, if any."""
        return await self._state.alert(normalise_address(mailbox), normalise_address(sender))

    async def silence(self, mailbox: str, sender: str, *, by: str) -> None:
        """「問題ない」: no more cards about ``sender`` in ``mailbox``."""
        await self._state.silence(normalise_address(mailbox), normalise_address(sender), by=by)

    async def link_case(self, mailbox: str, sender: str, case_id: str) -> None:
        """Remember the case started from the alert."""
        await self._state.link_case(normalise_address(mailbox), normalise_address(sender), case_id)
