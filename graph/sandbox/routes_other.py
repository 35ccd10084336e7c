"""Sandbox endpoints for sendMail, calendar events and group membership.

Permissions per route as Microsoft's API reference lists them for applications (least
privileged first; the page is each route's ``doc``). Directory collections page as Graph's
directory does: ``$top`` 1-999 (default 100), ``$skiptoken`` in ``@odata.nextLink``,
``$select`` honoured.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from graph.sandbox.routes_mail import DOC, USER_READ, _page, router
from graph.sandbox.service import Ctx, GraphHttpError, Reply
from graph.sandbox.state import iso, new_id, utcnow
from graph.sandbox.validate import check_body
from graph.sandbox.views import EVENT_PROPERTIES
from graph.transport import query_string

MAIL_SEND = ("Mail.Send",)
CALENDARS_WRITE = ("Calendars.ReadWrite",)
CALENDARS_READ = ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite")
# group-list-members / group-list-transitivemembers: GroupMember.Read.All is least privileged.
GROUP_READ = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All")
DIRECTORY_PAGE_DEFAULT = 100
DIRECTORY_PAGE_MAX = 999
SEND_MAIL_PARAMETERS = frozenset({"message", "saveToSentItems"})


def _address(recipient: Any) -> str:
    if not isinstance(recipient, dict):
        return ""
    return str((recipient.get("emailAddress") or {}).get("address") or "")


def _no_empty_ids(value: Any) -> None:
    """Graph refuses an empty id anywhere in a body (it is an id, and malformed)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "id" and inner == "":
                raise GraphHttpError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
            _no_empty_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            _no_empty_ids(inner)


@router.add("POST", "/users/{user}/sendMail", MAIL_SEND, doc=DOC + "user-sendmail")
async def send_mail(ctx: Ctx) -> Reply:
    """202: saved to Sent Items; delivered to recipients that are sandbox mailboxes."""
    box = ctx.mailbox()
    body = ctx.body if isinstance(ctx.body, dict) else {}
    if unknown := set(body) - SEND_MAIL_PARAMETERS:
        raise GraphHttpError(
            400,
            "RequestBodyRead",
            f"The parameter '{sorted(unknown)[0]}' in the request payload is not a valid "
            "parameter for the operation 'sendMail'.",
        )
    message = body.get("message")
    if not isinstance(message, dict):
        raise GraphHttpError(400, "ErrorInvalidRequest", "The message property is required.")
    check_body(message, "message")
    _no_empty_ids(message)
    to = [_address(r) for r in message.get("toRecipients") or []]
    if not to or not all("@" in a for a in to):
        raise GraphHttpError(
            400, "ErrorInvalidRecipients", "At least one valid recipient is required."
        )
    sender = box.user
    for field_name in ("from", "sender"):
        claimed = _address(message.get(field_name)).lower()
        if claimed and claimed != sender.upn.lower():
            # Sending as another mailbox needs Exchange's Send As (or Send on Behalf) right on
            # it, which the sandbox doesn't model: Mamoru sends only as the mailbox itself.
            raise GraphHttpError(
                403,
                "ErrorSendAsDenied",
                "The user account which was used to submit this request does not have the "
                "right to send mail on behalf of the specified sending account., Cannot submit "
                "message.",
            )
    subject = str(message.get("subject") or "")
    text = str((message.get("body") or {}).get("content") or "")
    if body.get("saveToSentItems", True):
        ctx.tenant.deliver(
            box,
            from_address=sender.upn,
            from_name=sender.display_name,
            subject=subject,
            body=text,
            folder="sentitems",
            apply_rules=False,
            is_read=True,
        )
    for address in to:
        target = ctx.tenant.mailbox(address)
        if target is not None:
            ctx.tenant.deliver(
                target,
                from_address=sender.upn,
                from_name=sender.display_name,
                subject=subject,
                body=text,
            )
    return Reply(202, None)


@router.add("POST", "/users/{user}/events", CALENDARS_WRITE, doc=DOC + "user-post-events")
async def create_event(ctx: Ctx) -> Reply:
    """201; a repeated transactionId returns the event created the first time.

    Attendees that are sandbox mailboxes get the invitation in their own calendar, as
    Exchange delivers it (the app needs no access to their mailboxes for that).
    """
    box = ctx.mailbox()
    body = dict(check_body(ctx.body, "event"))
    _no_empty_ids(body)
    for name in ("subject", "start", "end"):
        if name not in body:
            raise GraphHttpError(400, "ErrorInvalidRequest", f"The {name} property is required.")
    if _ends_before_it_starts(body):
        raise GraphHttpError(
            400, "ErrorPropertyValidationFailure", "At least one property failed validation."
        )
    tx = body.get("transactionId")
    if tx and tx in box.event_tx:
        return Reply(201, box.events[box.event_tx[tx]])
    now = iso(utcnow())
    organizer = {"emailAddress": {"name": box.user.display_name, "address": box.user.upn}}
    event = body | {
        "id": new_id("AAMkE"),
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "organizer": organizer,
        "isOrganizer": True,
    }
    box.events[event["id"]] = event
    if tx:
        box.event_tx[tx] = event["id"]
    for attendee in body.get("attendees") or []:
        target = ctx.tenant.mailbox(_address(attendee))
        if target is not None and target is not box:
            copy = event | {"id": new_id("AAMkE"), "isOrganizer": False}
            copy.pop("transactionId", None)
            target.events[copy["id"]] = copy
    return Reply(201, event)


@router.add("GET", "/users/{user}/events", CALENDARS_READ, doc=DOC + "user-list-events")
async def list_events(ctx: Ctx) -> Reply:
    """The mailbox's events, paged ($top default 10, $skip) like other Outlook collections."""
    items = [{k: v for k, v in e.items()} for e in ctx.mailbox().events.values()]
    known = EVENT_PROPERTIES | {"organizer", "isOrganizer"}
    return _page(ctx, items, known, "microsoft.graph.event")


def _user_json(ctx: Ctx, user_id: str) -> dict[str, Any]:
    user = ctx.tenant.users[user_id]
    full = {
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "displayName": user.display_name,
        "userPrincipalName": user.upn,
        "mail": user.upn,
    }
    if not ctx.app.roles & set(USER_READ):
        # Without a User permission Graph returns only the type and id of each member.
        return {"@odata.type": full["@odata.type"], "id": user.id} | dict.fromkeys(
            ("displayName", "userPrincipalName", "mail")
        )
    return full


def _directory_page(ctx: Ctx, items: list[dict[str, Any]], type_name: str) -> Reply:
    """``$select``, ``$top`` (1-999) and ``$skiptoken`` paging, as Graph's directory does."""
    fields = [f.strip() for f in ctx.query.get("$select", "").split(",") if f.strip()]
    known = {"id", "displayName", "userPrincipalName", "mail"}
    for name in fields:
        if name not in known:
            raise GraphHttpError(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
    raw_top = ctx.query.get("$top", str(DIRECTORY_PAGE_DEFAULT))
    if not raw_top.isdigit() or not 1 <= int(raw_top) <= DIRECTORY_PAGE_MAX:
        raise GraphHttpError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{raw_top}'. Must be between 1 and 999 inclusive.",
        )
    top = int(raw_top)
    start = 0
    if token := ctx.query.get("$skiptoken"):
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise GraphHttpError(
                400, "Directory_InvalidSkipToken", "The skip token is invalid."
            ) from None
    page = items[start : start + top]
    if fields:
        page = [{k: v for k, v in i.items() if k in {"@odata.type", "id", *fields}} for i in page]
    body: dict[str, Any] = {"value": page}
    if start + top < len(items):
        token = base64.urlsafe_b64encode(str(start + top).encode()).decode()
        params = {k: v for k, v in ctx.query.items() if k != "$skiptoken"} | {"$skiptoken": token}
        body["@odata.nextLink"] = f"{ctx.sandbox_base}{ctx.path}?{query_string(params)}"
    return Reply(200, body)


def _group(ctx: Ctx) -> Any:
    group = ctx.tenant.groups.get(ctx.params["group"])
    if group is None:
        raise GraphHttpError(
            404, "Request_ResourceNotFound", f"Resource '{ctx.params['group']}' does not exist."
        )
    return group


@router.add("GET", "/groups/{group}/members", GROUP_READ, doc=DOC + "group-list-members")
async def group_members(ctx: Ctx) -> Reply:
    """Direct members of a group, paged."""
    items = [
        {"@odata.type": "#microsoft.graph.group", "id": uid, "displayName": None}
        if uid in ctx.tenant.groups
        else _user_json(ctx, uid)
        for uid in _group(ctx).member_ids
    ]
    return _directory_page(ctx, items, "microsoft.graph.directoryObject")


@router.add(
    "GET", "/groups/{group}/transitiveMembers", GROUP_READ, doc=DOC + "group-list-transitivemembers"
)
async def group_transitive_members(ctx: Ctx) -> Reply:
    """Members of a group and of the groups nested in it, flattened, paged."""
    seen: list[str] = []
    pending = [_group(ctx).id]
    visited: set[str] = set()
    while pending:
        gid = pending.pop()
        if gid in visited:
            continue
        visited.add(gid)
        for member in ctx.tenant.groups[gid].member_ids:
            if member in ctx.tenant.groups:
                pending.append(member)
            elif member not in seen:
                seen.append(member)
    items = [_user_json(ctx, uid) for uid in seen]
    return _directory_page(ctx, items, "microsoft.graph.directoryObject")


@router.add(
    "POST",
    "/users/{user}/checkMemberGroups",
    USER_READ,
    also=GROUP_READ,
    doc=DOC + "directoryobject-checkmembergroups",
)
async def check_member_groups(ctx: Ctx) -> Reply:
    """Which of the given groups the user belongs to (needs a User and a Group permission)."""
    user = ctx.user
    assert user is not None
    wanted = (ctx.body or {}).get("groupIds") or []
    found = [
        g for g in wanted if g in ctx.tenant.groups and user.id in ctx.tenant.groups[g].member_ids
    ]
    return Reply(200, {"value": found})


@router.add(
    "GET", "/users/{user}/memberOf", USER_READ, also=GROUP_READ, doc=DOC + "user-list-memberof"
)
async def member_of(ctx: Ctx) -> Reply:
    """Groups the user belongs to, paged."""
    user = ctx.user
    assert user is not None
    groups = [
        {"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.display_name}
        for g in ctx.tenant.groups.values()
        if user.id in g.member_ids
    ]
    return _directory_page(ctx, groups, "microsoft.graph.directoryObject")


def _ends_before_it_starts(event: dict[str, Any]) -> bool:
    """Whether the event's end precedes its start (Exchange refuses it: property validation)."""
    try:
        start = dt.datetime.fromisoformat(event["start"]["dateTime"])
        end = dt.datetime.fromisoformat(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return False  # malformed times are check_body's and Graph's other refusals
    zones = (event["start"].get("timeZone"), event["end"].get("timeZone"))
    return zones[0] == zones[1] and end < start
