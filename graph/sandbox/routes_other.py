"""Sandbox endpoints for sendMail, calendar events and group membership."""

from __future__ import annotations

from typing import Any

from graph.sandbox.routes_mail import router
from graph.sandbox.service import Ctx, GraphHttpError, Reply
from graph.sandbox.state import iso, new_id, utcnow

MAIL_SEND = ("Mail.Send",)
CALENDARS = ("Calendars.ReadWrite",)
GROUP_READ = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All")


def _address(recipient: Any) -> str:
    if not isinstance(recipient, dict):
        return ""
    return str((recipient.get("emailAddress") or {}).get("address") or "")


@router.add("POST", "/users/{user}/sendMail", MAIL_SEND)
async def send_mail(ctx: Ctx) -> Reply:
    """202: saved to Sent Items; delivered to recipients that are sandbox mailboxes."""
    box = ctx.mailbox()
    message = (ctx.body or {}).get("message")
    if not isinstance(message, dict):
        raise GraphHttpError(400, "ErrorInvalidRequest", "The message property is required.")
    to = [_address(r) for r in message.get("toRecipients") or []]
    if not to or not all("@" in a for a in to):
        raise GraphHttpError(
            400, "ErrorInvalidRecipients", "At least one valid recipient is required."
        )
    subject = str(message.get("subject") or "")
    body = str((message.get("body") or {}).get("content") or "")
    sender = box.user
    if (ctx.body or {}).get("saveToSentItems", True):
        ctx.tenant.deliver(
            box,
            from_address=sender.upn,
            from_name=sender.display_name,
            subject=subject,
            body=body,
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
                body=body,
            )
    return Reply(202, None)


@router.add("POST", "/users/{user}/events", CALENDARS)
async def create_event(ctx: Ctx) -> Reply:
    """201; a repeated transactionId returns the event created the first time."""
    box = ctx.mailbox()
    body = dict(ctx.body or {})
    for name in ("subject", "start", "end"):
        if name not in body:
            raise GraphHttpError(400, "ErrorInvalidRequest", f"The {name} property is required.")
    tx = body.get("transactionId")
    if tx and tx in box.event_tx:
        return Reply(201, box.events[box.event_tx[tx]])
    now = iso(utcnow())
    event = body | {"id": new_id("AAMkE"), "createdDateTime": now, "lastModifiedDateTime": now}
    box.events[event["id"]] = event
    if tx:
        box.event_tx[tx] = event["id"]
    return Reply(201, event)


@router.add("GET", "/users/{user}/events", CALENDARS)
async def list_events(ctx: Ctx) -> Reply:
    """The mailbox's events."""
    return Reply(200, {"value": list(ctx.mailbox().events.values())})


def _user_json(ctx: Ctx, user_id: str) -> dict[str, Any]:
    user = ctx.tenant.users[user_id]
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "displayName": user.display_name,
        "userPrincipalName": user.upn,
        "mail": user.upn,
    }


@router.add("GET", "/groups/{group}/members", GROUP_READ)
async def group_members(ctx: Ctx) -> Reply:
    """Members of a group."""
    group = ctx.tenant.groups.get(ctx.params["group"])
    if group is None:
        raise GraphHttpError(
            404, "Request_ResourceNotFound", f"Resource '{ctx.params['group']}' does not exist."
        )
    return Reply(200, {"value": [_user_json(ctx, uid) for uid in group.member_ids]})


@router.add("POST", "/users/{user}/checkMemberGroups", GROUP_READ)
async def check_member_groups(ctx: Ctx) -> Reply:
    """Which of the given groups the user belongs to."""
    user = ctx.user
    assert user is not None
    wanted = (ctx.body or {}).get("groupIds") or []
    found = [
        g for g in wanted if g in ctx.tenant.groups and user.id in ctx.tenant.groups[g].member_ids
    ]
    return Reply(200, {"value": found})


@router.add("GET", "/users/{user}/memberOf", GROUP_READ)
async def member_of(ctx: Ctx) -> Reply:
    """Groups the user belongs to."""
    user = ctx.user
    assert user is not None
    groups = [
        {"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.display_name}
        for g in ctx.tenant.groups.values()
        if user.id in g.member_ids
    ]
    return Reply(200, {"value": groups})
