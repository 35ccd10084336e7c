"""Sandbox endpoints for watching mail: message delta rounds and change-notification subscriptions.

Semantics follow Graph where Mamoru relies on them:

- ``GET /users/{u}/mailFolders/{f}/messages/delta``: a round is computed against the
  state saved at the end of the previous round (the first round lists the folder);
  pages of ``$top`` (default 10) linked by ``@odata.nextLink`` (``$skiptoken``), the
  last page carries ``@odata.deltaLink`` (``$deltatoken``). ``$select`` must name message
  properties; ``$filter`` only ``receivedDateTime ge|gt <date>``; ``changeType`` one of
  created, updated, deleted; ``$orderby``/``$search`` are refused. Unknown tokens: 410; a
  token may be used again (a retried page, a stored delta link), as Graph's can.
  Messages that left the folder come back as ``@removed`` rows.
- ``POST /subscriptions``: the resource must be a user's messages (optionally one
  folder); the app needs a mail read permission and, under RBAC for Applications, the
  mailbox in its scope; ``expirationDateTime`` in the future and at most 10,070 minutes
  ahead; ``notificationUrl`` https (plain http only to this machine, the sandbox's one
  concession: the local bot has no certificate), validated by a POST carrying
  ``validationToken`` that must come back as text within 10 seconds, the lifecycle URL
  likewise. ``PATCH`` renews, ``DELETE`` removes; an expired subscription stops.
- Notifications: each new message in a subscribed folder is posted once to the
  ``notificationUrl`` (``value`` array with ``subscriptionId``, ``clientState``,
  ``changeType``, ``resource``, ``resourceData``, ``tenantId``), without resource data.
  The message id in it is immutable only if the subscription was created with
  ``Prefer: IdType="ImmutableId"`` (otherwise the REST id, which changes on a move).
  ``ChangeFeeds.flush()`` posts what is due now (tests); a background loop does it
  every half second while a subscription exists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from graph.sandbox.routes_mail import DOC, MAIL_READ_BASIC, readable, router
from graph.sandbox.service import Ctx, GraphHttpError, Reply
from graph.sandbox.state import Mailbox, StoredMessage, Tenant, is_exchange_role, iso, utcnow
from graph.sandbox.views import MESSAGE_PROPERTIES, message_json, select

MAX_EXPIRY = dt.timedelta(minutes=10070)  # Outlook message subscriptions
VALIDATION_TIMEOUT = 10.0
NOTIFY_INTERVAL = 0.5
_FILTER = re.compile(
    r"^\s*receivedDateTime\s+(ge|gt)\s+(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d))\s*$"
)
_RESOURCE = re.compile(
    r"^/?(?:users|Users)/(?P<user>[^/]+)/(?:mailFolders\('(?P<folder>[^']+)'\)/|mailFolders/"
    r"(?P<folder2>[^/]+)/)?messages$",
    re.IGNORECASE,
)
CHANGE_TYPES = frozenset({"created", "updated", "deleted"})


@dataclass
class _Cursor:
    """A delta round in progress, or the state a deltatoken stands for."""

    user_id: str
    folder_id: str
    fields: list[str]
    top: int
    since: tuple[str, dt.datetime] | None
    change_types: frozenset[str]
    snapshot: dict[str, tuple[Any, ...]]  # immutable id -> what "updated" compares
    pending: list[tuple[str, str]] = field(default_factory=list)  # (change, immutable id)


@dataclass
class SandboxSubscription:
    """One subscription as the sandbox keeps it."""

    id: str
    app_id: str
    user_id: str
    folder_id: str | None
    resource: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str
    client_state: str
    expires: dt.datetime
    known: set[str] = field(default_factory=set)  # messages already notified
    # Created with Prefer: IdType="ImmutableId"? Only then do notifications carry immutable
    # ids (outlook-immutable-id: the header counts at creation; renewing doesn't change it).
    immutable_ids: bool = False

    def json(self) -> dict[str, Any]:
        """The subscription resource."""
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.app_id,
            "changeType": ",".join(sorted(self.change_types)),
            "clientState": self.client_state or None,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url or None,
            "expirationDateTime": iso(self.expires),
            "creatorId": self.app_id,
            "latestSupportedTlsVersion": "v1_2",
            "notificationContentType": "application/json",
            "includeResourceData": False,
        }


@dataclass
class ChangeFeeds:
    """Delta cursors and subscriptions of one tenant, and the notifier."""

    tenant_id: str
    cursors: dict[str, _Cursor] = field(default_factory=dict)
    subscriptions: dict[str, SandboxSubscription] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)  # every notification POST body
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _task: asyncio.Task[None] | None = None

    def new_token(self, cursor: _Cursor) -> str:
        """Store a cursor under a fresh opaque token."""
        token = secrets.token_urlsafe(24)
        self.cursors[token] = cursor
        return token

    async def flush(self, tenant: Tenant) -> int:
        """Post a notification for every new message in a subscribed folder; returns how many."""
        async with self._lock:
            now = utcnow()
            batches: dict[str, list[dict[str, Any]]] = {}
            for sub in list(self.subscriptions.values()):
                if sub.expires <= now:
                    del self.subscriptions[sub.id]  # expired: Graph stops notifying
                    continue
                box = tenant.mailboxes.get(sub.user_id)
                if box is None or "created" not in sub.change_types:
                    continue
                for msg in _in_folder(box, sub.folder_id):
                    if msg.immutable_id in sub.known:
                        continue
                    sub.known.add(msg.immutable_id)
                    batches.setdefault(sub.notification_url, []).append(
                        _notification(sub, msg, self.tenant_id)
                    )
            sent = 0
            if batches:
                async with aiohttp.ClientSession() as http:
                    for url, items in batches.items():
                        for start in range(0, len(items), 100):
                            body = {"value": items[start : start + 100]}
                            self.posted.append(body)
                            sent += len(body["value"])
                            try:
                                async with http.post(url, json=body, timeout=_timeout()) as r:
                                    await r.read()
                            except (aiohttp.ClientError, TimeoutError):
                                pass  # Graph retries for a while, then drops: not modelled
            return sent

    def miss(self, tenant: Tenant, subscription_id: str) -> int:
        """Lose the pending notifications of a subscription (a gap); returns how many."""
        sub = self.subscriptions[subscription_id]
        box = tenant.mailboxes[sub.user_id]
        lost = [
            m.immutable_id
            for m in _in_folder(box, sub.folder_id)
            if m.immutable_id not in sub.known
        ]
        sub.known.update(lost)
        return len(lost)

    async def lifecycle(self, subscription_id: str, event: str) -> None:
        """Post a lifecycle notification (missed, reauthorizationRequired, subscriptionRemoved)."""
        sub = self.subscriptions[subscription_id]
        if event == "subscriptionRemoved":
            del self.subscriptions[subscription_id]
        if not sub.lifecycle_url:
            return
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": iso(sub.expires),
            "tenantId": self.tenant_id,
            "clientState": sub.client_state or None,
            "lifecycleEvent": event,
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(sub.lifecycle_url, json={"value": [item]}, timeout=_timeout()) as r,
        ):
            await r.read()

    def expire(self, subscription_id: str) -> None:
        """Let a subscription run out now (tests: the renewal came too late)."""
        self.subscriptions[subscription_id].expires = utcnow() - dt.timedelta(seconds=1)

    def start(self, tenant: Tenant) -> None:
        """Run the notifier while subscriptions exist (started by the first subscription)."""
        if self._task is not None and not self._task.done():
            return
        ref = weakref.ref(tenant)

        async def loop() -> None:
            while self.subscriptions:
                await asyncio.sleep(NOTIFY_INTERVAL)
                owner = ref()
                if owner is None:
                    return
                await self.flush(owner)

        self._task = asyncio.get_running_loop().create_task(loop())


_FEEDS: weakref.WeakKeyDictionary[Tenant, ChangeFeeds] = weakref.WeakKeyDictionary()


def feeds_of(tenant: Tenant) -> ChangeFeeds:
    """The tenant's delta cursors and subscriptions (created on first use)."""
    feeds = _FEEDS.get(tenant)
    if feeds is None:
        feeds = _FEEDS[tenant] = ChangeFeeds(tenant.tenant_id)
    return feeds


def _timeout() -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=VALIDATION_TIMEOUT)


def _in_folder(box: Mailbox, folder_id: str | None) -> list[StoredMessage]:
    msgs = [m for m in box.messages.values() if folder_id is None or m.folder_id == folder_id]
    msgs.sort(key=lambda m: (m.received, m.immutable_id))
    return msgs


def _notification(sub: SandboxSubscription, msg: StoredMessage, tenant_id: str) -> dict[str, Any]:
    item_id = msg.immutable_id if sub.immutable_ids else msg.rest_id
    odata_id = f"Users/{sub.user_id}/Messages/{item_id}"
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": iso(sub.expires),
        "changeType": "created",
        "resource": odata_id,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": odata_id,
            "@odata.etag": f'W/"{msg.rest_id[-12:]}"',
            "id": item_id,
        },
        "clientState": sub.client_state or None,
        "tenantId": tenant_id,
    }


# --- delta


def _state(msg: StoredMessage) -> tuple[Any, ...]:
    return (msg.is_read, msg.subject, msg.folder_id)


def _new_cursor(ctx: Ctx) -> _Cursor:
    box = ctx.mailbox()
    folder = box.folder(ctx.params["folder"])
    if folder is None:
        raise GraphHttpError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    for option in ("$orderby", "$search", "$skip", "$count", "$expand"):
        if option in ctx.query:
            raise GraphHttpError(
                400, "BadRequest", f"The query option '{option}' is not supported with delta."
            )
    fields = [f.strip() for f in ctx.query.get("$select", "").split(",") if f.strip()]
    for name in fields:
        if name not in MESSAGE_PROPERTIES:
            raise GraphHttpError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type 'microsoft.graph.message'.",
            )
    raw_top = ctx.query.get("$top", "10")
    if not raw_top.isdigit() or not 1 <= int(raw_top) <= 1000:
        raise GraphHttpError(400, "BadRequest", f"Invalid value '{raw_top}' for $top.")
    since = None
    if "$filter" in ctx.query:
        match = _FILTER.match(ctx.query["$filter"])
        if match is None:
            raise GraphHttpError(
                400,
                "BadRequest",
                "Delta on messages supports only $filter=receivedDateTime ge|gt {value}.",
            )
        since = (match.group(1), dt.datetime.fromisoformat(match.group(2).replace("Z", "+00:00")))
    changes = {c.strip() for c in ctx.query.get("changeType", "").split(",") if c.strip()}
    if changes - CHANGE_TYPES or len(changes) > 1:
        raise GraphHttpError(
            400, "BadRequest", "changeType must be one of created, updated or deleted."
        )
    return _Cursor(
        user_id=box.user.id,
        folder_id=folder.id,
        fields=fields,
        top=int(raw_top),
        since=since,
        change_types=frozenset(changes or CHANGE_TYPES),
        snapshot={},
    )


def _start_round(box: Mailbox, cursor: _Cursor) -> _Cursor:
    """Compare the folder with the cursor's snapshot: the changes become the round's items."""
    current = {m.immutable_id: m for m in _in_folder(box, cursor.folder_id)}
    pending: list[tuple[str, str]] = []
    for imm, msg in current.items():
        before = cursor.snapshot.get(imm)
        if before is None:
            if cursor.since is not None:
                op, limit = cursor.since
                if not (msg.received >= limit if op == "ge" else msg.received > limit):
                    continue
            pending.append(("created", imm))
        elif before != _state(msg):
            pending.append(("updated", imm))
    for imm in cursor.snapshot:
        if imm not in current:
            pending.append(("deleted", imm))
    pending = [p for p in pending if p[0] in cursor.change_types]
    return _Cursor(
        user_id=cursor.user_id,
        folder_id=cursor.folder_id,
        fields=cursor.fields,
        top=cursor.top,
        since=cursor.since,
        change_types=cursor.change_types,
        snapshot={imm: _state(m) for imm, m in current.items()},
        pending=pending,
    )


def _page(ctx: Ctx, feeds: ChangeFeeds, cursor: _Cursor) -> Reply:
    box = ctx.mailbox()
    page, rest = cursor.pending[: cursor.top], cursor.pending[cursor.top :]
    value: list[dict[str, Any]] = []
    for change, imm in page:
        msg = box.messages.get(imm)
        if change == "deleted" or msg is None:
            value.append(
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": imm if ctx.immutable else f"removed-{imm}",
                    "@removed": {"reason": "deleted"},
                }
            )
        else:
            item = select(readable(ctx, message_json(msg, ctx.immutable)), cursor.fields)
            value.append({"@odata.type": "#microsoft.graph.message", **item})
    base = f"{ctx.sandbox_base}{ctx.path}"
    body: dict[str, Any] = {"value": value}
    rest_cursor = _Cursor(**{**cursor.__dict__, "pending": rest})
    if rest:
        body["@odata.nextLink"] = f"{base}?$skiptoken={feeds.new_token(rest_cursor)}"
    else:
        body["@odata.deltaLink"] = f"{base}?$deltatoken={feeds.new_token(rest_cursor)}"
    return Reply(200, body)


async def _delta(ctx: Ctx) -> Reply:
    feeds = feeds_of(ctx.tenant)
    token = ctx.query.get("$deltatoken") or ctx.query.get("$skiptoken")
    if token is None:
        return _page(ctx, feeds, _start_round(ctx.mailbox(), _new_cursor(ctx)))
    # Graph's state tokens encode the sync state: the same link asked again (a retry after a
    # lost answer, or a stored delta link) gives the same page or the changes since that state.
    cursor = feeds.cursors.get(token)
    if cursor is None or cursor.user_id != ctx.mailbox().user.id:
        raise GraphHttpError(
            410, "SyncStateNotFound", "The sync state generation is not found or has expired."
        )
    if "$deltatoken" in ctx.query:
        cursor = _start_round(ctx.mailbox(), cursor)
    return _page(ctx, feeds, cursor)


# message-delta: Mail.ReadBasic.All is the least privileged application permission.
for _template in (
    "/users/{user}/mailFolders/{folder}/messages/delta",
    "/users/{user}/mailFolders/{folder}/messages/microsoft.graph.delta()",
):
    router.add("GET", _template, MAIL_READ_BASIC, doc=DOC + "message-delta")(_delta)


# --- subscriptions


def _allowed_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost"}


async def _validate_endpoint(url: str) -> bool:
    token = f"Validation: Testing client application reachability {secrets.token_hex(8)}"
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=_timeout(),
            ) as resp,
        ):
            text = await resp.text()
            return resp.status == 200 and text == token
    except (aiohttp.ClientError, TimeoutError):
        return False


def _resource_mailbox(ctx: Ctx, resource: str) -> tuple[Mailbox, str | None]:
    match = _RESOURCE.match(resource.strip())
    if match is None:
        raise GraphHttpError(
            400, "InvalidRequest", f"Resource '{resource}' is not supported for subscriptions."
        )
    user = ctx.tenant.user(match.group("user"))
    box = ctx.tenant.mailboxes.get(user.id) if user else None
    if user is None or box is None:
        raise GraphHttpError(404, "ResourceNotFound", "The user or mailbox was not found.")
    granted = ctx.app.roles & set(MAIL_READ_BASIC)
    scope = ctx.app.mailbox_scope
    out_of_scope = (
        scope is not None
        and not ctx.app.tenant_wide
        and user.upn.lower() not in scope
        and user.id not in scope
    )
    if not granted or out_of_scope or not all(is_exchange_role(r) for r in granted):
        raise GraphHttpError(
            403,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. "
            "Check credentials and try again.]",
        )
    folder_ref = match.group("folder") or match.group("folder2")
    folder_id = None
    if folder_ref:
        folder = box.folder(folder_ref)
        if folder is None:
            raise GraphHttpError(404, "ResourceNotFound", "The folder was not found.")
        folder_id = folder.id
    return box, folder_id


def _expiry(value: Any) -> dt.datetime:
    try:
        expires = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GraphHttpError(
            400, "InvalidRequest", "expirationDateTime is required and must be a date-time."
        ) from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    now = utcnow()
    if expires <= now:
        raise GraphHttpError(
            400, "InvalidRequest", "Subscription expiration must be in the future."
        )
    if expires > now + MAX_EXPIRY:
        raise GraphHttpError(
            400,
            "InvalidRequest",
            "Subscription expiration can only be 10070 minutes in the future.",
        )
    return expires


def _own(ctx: Ctx) -> SandboxSubscription:
    sub = feeds_of(ctx.tenant).subscriptions.get(ctx.params["id"])
    if sub is not None and sub.expires <= utcnow():
        del feeds_of(ctx.tenant).subscriptions[sub.id]
        sub = None
    if sub is None or sub.app_id != ctx.app.client_id:
        raise GraphHttpError(
            404, "ResourceNotFound", f"The object '{ctx.params['id']}' doesn't exist."
        )
    return sub


# Subscriptions need no permission of their own: the resource's read permission is checked
# against the resource named in the body (subscription-post-subscriptions: message ->
# Mail.ReadBasic.All or Mail.Read), as Graph does.
@router.add("POST", "/subscriptions", (), doc=DOC + "subscription-post-subscriptions")
async def create_subscription(ctx: Ctx) -> Reply:
    """Create a subscription after validating its endpoints (201)."""
    body = ctx.body if isinstance(ctx.body, dict) else {}
    changes = {c.strip() for c in str(body.get("changeType") or "").split(",") if c.strip()}
    if not changes or changes - CHANGE_TYPES:
        raise GraphHttpError(
            400, "InvalidRequest", "changeType must list created, updated and/or deleted."
        )
    resource = str(body.get("resource") or "")
    box, folder_id = _resource_mailbox(ctx, resource)
    expires = _expiry(body.get("expirationDateTime"))
    client_state = body.get("clientState") or ""
    if not isinstance(client_state, str) or len(client_state) > 128:
        raise GraphHttpError(400, "InvalidRequest", "clientState is at most 128 characters.")
    url, lifecycle = body.get("notificationUrl"), body.get("lifecycleNotificationUrl") or ""
    if not _allowed_url(url) or (lifecycle and not _allowed_url(lifecycle)):
        raise GraphHttpError(400, "InvalidRequest", "The notification URL must be an https URL.")
    for endpoint in (url, lifecycle):
        if endpoint and not await _validate_endpoint(endpoint):
            raise GraphHttpError(
                400,
                "ValidationError",
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK to validation request.",
            )
    feeds = feeds_of(ctx.tenant)
    sub = SandboxSubscription(
        id=str(uuid.uuid4()),
        app_id=ctx.app.client_id,
        user_id=box.user.id,
        folder_id=folder_id,
        resource=resource,
        change_types=frozenset(changes),
        notification_url=str(url),
        lifecycle_url=str(lifecycle),
        client_state=client_state,
        expires=expires,
        # Only what arrives from now on is notified.
        known={m.immutable_id for m in _in_folder(box, folder_id)},
        immutable_ids=ctx.immutable,
    )
    feeds.subscriptions[sub.id] = sub
    feeds.start(ctx.tenant)
    return Reply(201, sub.json())


@router.add("GET", "/subscriptions", ())
async def list_subscriptions(ctx: Ctx) -> Reply:
    """The calling app's active subscriptions."""
    now = utcnow()
    subs = [
        s.json()
        for s in feeds_of(ctx.tenant).subscriptions.values()
        if s.app_id == ctx.app.client_id and s.expires > now
    ]
    return Reply(200, {"value": subs})


@router.add("GET", "/subscriptions/{id}", ())
async def get_subscription(ctx: Ctx) -> Reply:
    """One subscription of the calling app."""
    return Reply(200, _own(ctx).json())


@router.add("PATCH", "/subscriptions/{id}", ())
async def renew_subscription(ctx: Ctx) -> Reply:
    """Renew: a new expiry within the same limits (404 once it has expired)."""
    sub = _own(ctx)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    sub.expires = _expiry(body.get("expirationDateTime"))
    return Reply(200, sub.json())


@router.add("DELETE", "/subscriptions/{id}", ())
async def delete_subscription(ctx: Ctx) -> Reply:
    """Remove a subscription."""
    sub = _own(ctx)
    del feeds_of(ctx.tenant).subscriptions[sub.id]
    return Reply(204, None)
