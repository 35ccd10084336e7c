"""Watching an inbox for new mail: delta queries and change-notification subscriptions.

Metadata only: the delta round asks for ``from``, ``receivedDateTime`` and ``subject``
(``Mail.ReadBasic.All`` is enough, the least privilege Graph offers for both calls);
bodies are never requested. See docs/flood.md for the semantics relied on:

- ``GET /users/{id}/mailFolders/inbox/messages/delta``: a round is one or more pages
  linked by ``@odata.nextLink``; the last page carries ``@odata.deltaLink``, which the next
  round starts from. Links are used exactly as given. Options (``$select``, ``$top``,
  ``$filter`` on ``receivedDateTime``, ``changeType``) are encoded into the links by Graph.
  An expired or unknown state answers 410: the caller starts a fresh round.
- ``POST /subscriptions``: Graph validates ``notificationUrl`` (and the lifecycle URL) by
  posting a ``validationToken`` that must be echoed; messages subscriptions live at most
  10,080 minutes (we never ask more than 10,070) and are renewed with ``PATCH``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from graph.errors import GraphError, NotFound
from graph.transport import GraphTransport

DELTA_SELECT = "from,receivedDateTime,subject"
DELTA_PAGE = 1000  # messages per delta page ($top, encoded by Graph into the links)
MAX_MESSAGE_SUBSCRIPTION = dt.timedelta(minutes=10070)  # Graph's 10,080, less a margin


def _seg(value: str) -> str:
    return quote(value, safe="@")


def graph_time(value: dt.datetime) -> str:
    """Graph's UTC date-time literal."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeltaStateLost(GraphError):
    """The delta link expired or is unknown (HTTP 410): start a new round."""


@dataclass(frozen=True, slots=True)
class SeenMessage:
    """A message metadata row of a delta page (``removed``: it left the folder)."""

    id: str
    sender: str
    received_at: dt.datetime | None
    subject: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class DeltaPage:
    """One page of a delta round; the last one has ``delta_link``."""

    messages: list[SeenMessage]
    delta_link: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A change-notification subscription as Graph returned it."""

    id: str
    resource: str
    expires_at: dt.datetime
    client_state: str


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seen(raw: dict[str, Any]) -> SeenMessage:
    sender = ((raw.get("from") or {}).get("emailAddress") or {}).get("address") or ""
    return SeenMessage(
        id=str(raw.get("id", "")),
        sender=str(sender),
        received_at=_parse_time(raw.get("receivedDateTime")),
        subject=str(raw.get("subject") or ""),
        removed="@removed" in raw,
    )


def _subscription(body: dict[str, Any]) -> Subscription:
    expires = _parse_time(body.get("expirationDateTime"))
    return Subscription(
        id=str(body["id"]),
        resource=str(body.get("resource", "")),
        expires_at=expires or dt.datetime.now(dt.UTC),
        client_state=str(body.get("clientState") or ""),
    )


class GraphChangesClient:
    """Delta rounds on an inbox and subscriptions to its new mail, over one transport."""

    def __init__(self, transport: GraphTransport) -> None:
        self.transport = transport

    async def inbox_delta(
        self, mailbox: str, *, delta_link: str | None, since: dt.datetime | None = None
    ) -> AsyncIterator[DeltaPage]:
        """The pages of one delta round, from ``delta_link`` or (None) a new round.

        A new round lists the inbox's messages received since ``since`` (Graph allows a
        ``receivedDateTime ge`` filter on message delta) and only new messages after that
        (``changeType=created``): read flags and moves are none of flood detection's business.
        """
        url: str | None
        if delta_link:
            url = delta_link
        else:
            params: dict[str, str | int] = {
                "$select": DELTA_SELECT,
                "$top": DELTA_PAGE,
                "changeType": "created",
            }
            if since is not None:
                params["$filter"] = f"receivedDateTime ge {graph_time(since)}"
            path = f"/users/{_seg(mailbox)}/mailFolders/inbox/messages/delta"
            url = self.transport.url(path, params)
        while url:
            try:
                body = (await self.transport.request("GET", url, mailbox=mailbox)).body or {}
            except GraphError as exc:
                if exc.status == 410:
                    raise DeltaStateLost(
                        exc.message, code=exc.code, status=exc.status, request_id=exc.request_id
                    ) from exc
                raise
            messages = [_seen(m) for m in body.get("value", [])]
            next_link = body.get("@odata.nextLink")
            delta = body.get("@odata.deltaLink")
            yield DeltaPage(messages, None if next_link else delta)
            url = next_link

    async def subscribe_inbox(
        self,
        mailbox: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: dt.datetime,
    ) -> Subscription:
        """Subscribe to new messages in the inbox (Graph validates both URLs first)."""
        body = {
            "changeType": "created",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": f"users/{mailbox}/mailFolders('inbox')/messages",
            "expirationDateTime": graph_time(expires_at),
            "clientState": client_state,
            "latestSupportedTlsVersion": "v1_2",
        }
        resp = await self.transport.request(
            "POST", "/subscriptions", mailbox=mailbox, json=body, idempotent=False
        )
        return _subscription(resp.body or {})

    async def renew(self, subscription_id: str, expires_at: dt.datetime) -> Subscription:
        """Move a subscription's expiry; ``NotFound`` if Graph already removed it."""
        resp = await self.transport.request(
            "PATCH",
            f"/subscriptions/{_seg(subscription_id)}",
            json={"expirationDateTime": graph_time(expires_at)},
        )
        return _subscription(resp.body or {})

    async def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription (gone already is fine)."""
        try:
            await self.transport.request("DELETE", f"/subscriptions/{_seg(subscription_id)}")
        except NotFound:
            return
