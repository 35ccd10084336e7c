"""The ``InboxFeed`` port over Microsoft Graph (``graph.changes``).

Subjects are hashed the moment a page arrives and the text is dropped: nothing of a
message's content is kept or logged before someone chooses to start a case.
"""

from __future__ import annotations

import datetime as dt

from bot.domain.flood import (
    FeedReset,
    FeedRound,
    FeedSubscription,
    MailboxOutOfScope,
    Sighting,
    SubscriptionGone,
    normalise_address,
    subject_hash,
)
from bot.mail.graph_mailbox import translate
from graph import errors
from graph.changes import DeltaStateLost, GraphChangesClient


class GraphInboxFeed:
    """New inbox mail through delta rounds; notifications through subscriptions."""

    def __init__(self, client: GraphChangesClient) -> None:
        self.client = client

    async def new_mail(self, mailbox: str, *, cursor: str | None, since: dt.datetime) -> FeedRound:
        """One complete delta round (every page), as sightings."""
        sightings: list[Sighting] = []
        requests = 0
        link = ""
        try:
            async for page in self.client.inbox_delta(mailbox, delta_link=cursor, since=since):
                requests += 1
                for m in page.messages:
                    if m.removed or not m.sender or m.received_at is None:
                        continue
                    sightings.append(
                        Sighting(
                            message_id=m.id,
                            sender=normalise_address(m.sender),
                            received_at=m.received_at,
                            subject_hash=subject_hash(m.subject),
                        )
                    )
                if page.delta_link:
                    link = page.delta_link
        except DeltaStateLost as exc:
            raise FeedReset(exc.code or "410") from exc
        except (errors.AccessDenied, errors.MailboxNotFound) as exc:
            raise MailboxOutOfScope(exc.code or str(exc.status)) from exc
        except errors.GraphError as exc:
            raise translate(exc) from exc
        return FeedRound(sightings, link, requests)

    async def subscribe(
        self,
        mailbox: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: dt.datetime,
    ) -> FeedSubscription:
        """Subscribe to the inbox's new mail."""
        try:
            sub = await self.client.subscribe_inbox(
                mailbox,
                notification_url=notification_url,
                lifecycle_url=lifecycle_url,
                client_state=client_state,
                expires_at=expires_at,
            )
        except (errors.AccessDenied, errors.MailboxNotFound) as exc:
            raise MailboxOutOfScope(exc.code or str(exc.status)) from exc
        except errors.GraphError as exc:
            raise translate(exc) from exc
        return FeedSubscription(sub.id, sub.expires_at)

    async def renew(self, subscription_id: str, expires_at: dt.datetime) -> FeedSubscription:
        """Extend the subscription."""
        try:
            sub = await self.client.renew(subscription_id, expires_at)
        except errors.NotFound as exc:
            raise SubscriptionGone(subscription_id) from exc
        except errors.GraphError as exc:
            raise translate(exc) from exc
        return FeedSubscription(sub.id, sub.expires_at)

    async def unsubscribe(self, subscription_id: str) -> None:
        """End the subscription."""
        try:
            await self.client.unsubscribe(subscription_id)
        except errors.GraphError as exc:
            raise translate(exc) from exc
