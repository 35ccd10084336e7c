"""Sandbox endpoints for users, mail folders, messages and inbox rules.

Each route names the application permissions Microsoft's API reference lists for it
(least privileged first) and the page they were taken from (``DOC`` + page name); the
table is printed in docs/graph.md.
"""

from __future__ import annotations

import json
from typing import Any

from graph.sandbox.odata import FilterError, inefficient, parse_filter, parse_orderby, sort_key
from graph.sandbox.service import Ctx, GraphHttpError, Reply, Router
from graph.sandbox.state import Folder, Mailbox, StoredMessage, new_id
from graph.sandbox.validate import check_body
from graph.sandbox.views import (
    FOLDER_PROPERTIES,
    MESSAGE_PROPERTIES,
    folder_json,
    message_json,
    select,
)
from graph.transport import query_string

DOC = "https://learn.microsoft.com/graph/api/"
# Listing folders and messages (no body): Mail.ReadBasic.All is enough; bodies and MIME need
# Mail.Read; writes Mail.ReadWrite. Exchange RBAC for Applications grants these per scope.
MAIL_READ_BASIC = ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
MAIL_READ = ("Mail.Read", "Mail.ReadWrite")
MAIL_WRITE = ("Mail.ReadWrite",)
RULES_READ = ("MailboxSettings.Read", "MailboxSettings.ReadWrite")
RULES_WRITE = ("MailboxSettings.ReadWrite",)
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")

router = Router()


def _folder(ctx: Ctx, ref: str) -> Folder:
    folder = ctx.mailbox().folder(ref)
    if folder is None:
        raise GraphHttpError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return folder


def _message(ctx: Ctx) -> StoredMessage:
    msg = ctx.mailbox().message(ctx.params["id"])
    if msg is None:
        # Also what a stale REST id gets after a move: that's why Mamoru asks for immutable ids.
        raise GraphHttpError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return msg


# What Mail.ReadBasic.All withholds (permissions reference: "except Body, BodyPreview,
# UniqueBody, Attachments, ExtendedProperties, and Extensions").
BASIC_WITHHELD = frozenset({"body", "bodyPreview", "uniqueBody", "attachments"})


def readable(ctx: Ctx, item: dict[str, Any]) -> dict[str, Any]:
    """A message as the calling app may see it: no body without Mail.Read or Mail.ReadWrite."""
    if ctx.app.roles & set(MAIL_READ):
        return item
    return {k: v for k, v in item.items() if k not in BASIC_WITHHELD}


def _int(ctx: Ctx, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GraphHttpError(400, "BadRequest", f"Invalid value '{raw}' for {name}.") from None
    if not low <= value <= high:
        raise GraphHttpError(
            400, "ErrorInvalidParameter", f"{name} must be between {low} and {high}."
        )
    return value


def _page(ctx: Ctx, items: list[dict[str, Any]], known: frozenset[str], type_name: str) -> Reply:
    """Apply $filter/$orderby/$select/$top/$skip and build @odata.nextLink."""
    fields = [f.strip() for f in ctx.query.get("$select", "").split(",") if f.strip()]
    for name in fields:
        if name not in known:
            raise GraphHttpError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
    try:
        filter_props: list[str] = []
        if "$filter" in ctx.query:
            pred, filter_props = parse_filter(ctx.query["$filter"], set(known))
            items = [i for i in items if pred(i)]
        order = parse_orderby(ctx.query["$orderby"], set(known)) if "$orderby" in ctx.query else []
    except FilterError as exc:
        raise GraphHttpError(400, "BadRequest", str(exc)) from None
    if inefficient(order, filter_props):
        raise GraphHttpError(
            400,
            "InefficientFilter",
            "The restriction or sort order is too complex for this operation.",
        )
    if not order and "receivedDateTime" in known:
        order = [("receivedDateTime", True)]
    items.sort(key=lambda i: str(i.get("id")))  # stable base order so paging is deterministic
    for path, desc in reversed(order):
        items.sort(key=sort_key(path), reverse=desc)
    top = _int(ctx, "$top", 10, 1, 1000)
    skip = _int(ctx, "$skip", 0, 0, 10**9)
    page = items[skip : skip + top]
    body: dict[str, Any] = {"value": [select(i, fields) for i in page]}
    if skip + top < len(items):
        params = {k: v for k, v in ctx.query.items() if k != "$skip"} | {"$skip": str(skip + top)}
        body["@odata.nextLink"] = f"{ctx.sandbox_base}{ctx.path}?{query_string(params)}"
    return Reply(200, body)


# --- users


@router.add("GET", "/users/{user}", USER_READ, doc=DOC + "user-get")
async def get_user(ctx: Ctx) -> Reply:
    """A user."""
    user = ctx.user
    assert user is not None
    return Reply(
        200,
        {
            "id": user.id,
            "userPrincipalName": user.upn,
            "mail": user.upn,
            "displayName": user.display_name,
        },
    )


# --- folders


@router.add("GET", "/users/{user}/mailFolders", MAIL_READ_BASIC, doc=DOC + "user-list-mailfolders")
async def list_top_folders(ctx: Ctx) -> Reply:
    """Folders under the root."""
    box = ctx.mailbox()
    root = box.well_known["msgfolderroot"]
    items = [folder_json(box, f) for f in box.folders.values() if f.parent_id == root]
    return _page(ctx, items, FOLDER_PROPERTIES, "microsoft.graph.mailFolder")


@router.add(
    "GET", "/users/{user}/mailFolders/{folder}", MAIL_READ_BASIC, doc=DOC + "mailfolder-get"
)
async def get_folder(ctx: Ctx) -> Reply:
    """One folder by id or well-known name."""
    return Reply(200, folder_json(ctx.mailbox(), _folder(ctx, ctx.params["folder"])))


@router.add(
    "GET",
    "/users/{user}/mailFolders/{folder}/childFolders",
    MAIL_READ_BASIC,
    doc=DOC + "mailfolder-list-childfolders",
)
async def list_child_folders(ctx: Ctx) -> Reply:
    """Child folders."""
    box = ctx.mailbox()
    parent = _folder(ctx, ctx.params["folder"])
    items = [folder_json(box, f) for f in box.folders.values() if f.parent_id == parent.id]
    return _page(ctx, items, FOLDER_PROPERTIES, "microsoft.graph.mailFolder")


@router.add(
    "POST",
    "/users/{user}/mailFolders/{folder}/childFolders",
    MAIL_WRITE,
    doc=DOC + "mailfolder-post-childfolders",
)
async def create_child_folder(ctx: Ctx) -> Reply:
    """Create a child folder: 409 ErrorFolderExists on a duplicate name."""
    box = ctx.mailbox()
    parent = _folder(ctx, ctx.params["folder"])
    name = check_body(ctx.body, "mailFolder").get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphHttpError(
            400, "ErrorInvalidPropertyValue", "The displayName property is required."
        )
    if len(name) > ctx.sandbox.limits.folder_name_max:
        raise GraphHttpError(
            400, "ErrorInvalidPropertyValue", "The value of property 'displayName' is too long."
        )
    taken = next(
        (
            f
            for f in box.folders.values()
            if f.parent_id == parent.id and f.display_name.lower() == name.lower()
        ),
        None,
    )
    if taken is not None:
        # The code is what clients can rely on: Graph answers 409 Conflict for a user's
        # folder, but 400 when the name belongs to a well-known (default) folder.
        status = 400 if taken.well_known else 409
        raise GraphHttpError(
            status, "ErrorFolderExists", "A folder with the specified name already exists."
        )
    folder = Folder(new_id("AAMkF"), name, parent.id)
    box.folders[folder.id] = folder
    return Reply(201, folder_json(box, folder))


# --- messages


def _messages(ctx: Ctx, box: Mailbox, folder: Folder | None) -> Reply:
    items = [
        readable(ctx, message_json(m, ctx.immutable))
        for m in box.messages.values()
        if folder is None or m.folder_id == folder.id
    ]
    return _page(ctx, items, MESSAGE_PROPERTIES, "microsoft.graph.message")


@router.add("GET", "/users/{user}/messages", MAIL_READ_BASIC, doc=DOC + "user-list-messages")
async def list_messages(ctx: Ctx) -> Reply:
    """Messages across the whole mailbox."""
    return _messages(ctx, ctx.mailbox(), None)


@router.add(
    "GET",
    "/users/{user}/mailFolders/{folder}/messages",
    MAIL_READ_BASIC,
    doc=DOC + "mailfolder-list-messages",
)
async def list_folder_messages(ctx: Ctx) -> Reply:
    """Messages of one folder."""
    return _messages(ctx, ctx.mailbox(), _folder(ctx, ctx.params["folder"]))


@router.add("GET", "/users/{user}/messages/{id}", MAIL_READ_BASIC, doc=DOC + "message-get")
async def get_message(ctx: Ctx) -> Reply:
    """One message ($select honoured; its body only with Mail.Read or Mail.ReadWrite)."""
    fields = [f.strip() for f in ctx.query.get("$select", "").split(",") if f.strip()]
    return Reply(200, select(readable(ctx, message_json(_message(ctx), ctx.immutable)), fields))


@router.add("GET", "/users/{user}/messages/{id}/$value", MAIL_READ, doc=DOC + "message-get")
async def get_mime(ctx: Ctx) -> Reply:
    """The MIME content."""
    return Reply(200, _message(ctx).mime, {"Content-Type": "text/plain"})


@router.add("PATCH", "/users/{user}/messages/{id}", MAIL_WRITE, doc=DOC + "message-update")
async def update_message(ctx: Ctx) -> Reply:
    """Update isRead."""
    msg = _message(ctx)
    body = check_body(ctx.body, "message")
    if "isRead" in body:
        msg.is_read = bool(body["isRead"])
    return Reply(200, message_json(msg, ctx.immutable))


@router.add("DELETE", "/users/{user}/messages/{id}", MAIL_WRITE, doc=DOC + "message-delete")
async def delete_message(ctx: Ctx) -> Reply:
    """Graph's delete: into Deleted Items (implemented so that tests can catch it being used)."""
    box = ctx.mailbox()
    ctx.tenant.move(box, _message(ctx), _folder(ctx, "deleteditems"))
    return Reply(204, None)


@router.add("POST", "/users/{user}/messages/{id}/move", MAIL_WRITE, doc=DOC + "message-move")
async def move_message(ctx: Ctx) -> Reply:
    """Move: 201 with the moved message (a new REST id unless immutable ids were asked for)."""
    box = ctx.mailbox()
    body = ctx.body if isinstance(ctx.body, dict) else {}
    if unknown := set(body) - {"destinationId"}:
        raise GraphHttpError(
            400,
            "RequestBodyRead",
            f"The parameter '{sorted(unknown)[0]}' in the request payload is not a valid "
            "parameter for the operation 'move'.",
        )
    dest_ref = body.get("destinationId")
    if not isinstance(dest_ref, str):
        raise GraphHttpError(400, "ErrorInvalidRequest", "destinationId is required.")
    msg = ctx.tenant.move(box, _message(ctx), _folder(ctx, dest_ref))
    return Reply(201, message_json(msg, ctx.immutable))


# --- inbox rules


def _rule_or_404(box: Mailbox, rule_id: str) -> dict[str, Any]:
    for rule in box.rules:
        if rule["id"] == rule_id:
            return rule
    raise GraphHttpError(
        404, "ErrorItemNotFound", "The specified object was not found in the store."
    )


READ_ONLY_RULE_PROPERTIES = frozenset({"id", "hasError", "isReadOnly"})


def _rule_body(ctx: Ctx) -> dict[str, Any]:
    """The written properties of a rule: known to the type, read-only ones ignored."""
    body = check_body(ctx.body, "messageRule")
    return {k: v for k, v in body.items() if k not in READ_ONLY_RULE_PROPERTIES and "@" not in k}


def _place(box: Mailbox, rule: dict[str, Any]) -> None:
    """Put the rule at its ``sequence`` and renumber all rules 1..n (Exchange's priorities).

    Sequences stay unique and consecutive, as Exchange keeps rule priorities: a rule
    written with sequence 1 runs first and the others move down one.
    """
    others = sorted((r for r in box.rules if r is not rule), key=lambda r: r["sequence"])
    position = min(max(int(rule["sequence"]), 1), len(others) + 1)
    ordered = [*others[: position - 1], rule, *others[position - 1 :]]
    for n, item in enumerate(ordered, start=1):
        item["sequence"] = n
    box.rules[:] = ordered


def _check_rule(ctx: Ctx, box: Mailbox, rule: dict[str, Any], others: list[dict[str, Any]]) -> None:
    if not isinstance(rule.get("displayName"), str) or not rule["displayName"]:
        raise GraphHttpError(400, "ErrorInvalidPropertyValue", "displayName is required.")
    sequence = rule.get("sequence")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise GraphHttpError(
            400, "ErrorInvalidPropertyValue", "sequence must be an integer of at least 1."
        )
    dest = (rule.get("actions") or {}).get("moveToFolder")
    if dest and box.folder(dest) is None:
        raise GraphHttpError(
            400, "ErrorInvalidPropertyValue", "moveToFolder does not identify a folder."
        )
    enabled = [r for r in [*others, rule] if r.get("isEnabled", True)]
    if len(json.dumps(enabled, ensure_ascii=False).encode()) > ctx.sandbox.limits.rules_quota_bytes:
        raise GraphHttpError(
            400, "ErrorRulesOverQuota", "The rules quota for this mailbox has been exceeded."
        )


@router.add(
    "GET",
    "/users/{user}/mailFolders/{folder}/messageRules",
    RULES_READ,
    doc=DOC + "mailfolder-list-messagerules",
)
async def list_rules(ctx: Ctx) -> Reply:
    """The inbox rules."""
    _folder(ctx, ctx.params["folder"])
    # Graph returns every rule in one answer (no paging on messageRules).
    return Reply(200, {"value": sorted(ctx.mailbox().rules, key=lambda r: r["sequence"])})


@router.add(
    "POST",
    "/users/{user}/mailFolders/{folder}/messageRules",
    RULES_WRITE,
    doc=DOC + "mailfolder-post-messagerules",
)
async def create_rule(ctx: Ctx) -> Reply:
    """Create a rule. Any action is accepted, as Graph does; only safe ones are carried out."""
    box = ctx.mailbox()
    if _folder(ctx, ctx.params["folder"]).well_known != "inbox":
        raise GraphHttpError(400, "ErrorInvalidRequest", "Rules can only be created on the Inbox.")
    rule = {
        "id": new_id("AQAAA"),
        "sequence": len(box.rules) + 1,
        "isEnabled": True,
        "hasError": False,
        "isReadOnly": False,
    } | _rule_body(ctx)
    _check_rule(ctx, box, rule, box.rules)
    box.rules.append(rule)
    _place(box, rule)
    return Reply(201, rule)


@router.add(
    "GET",
    "/users/{user}/mailFolders/{folder}/messageRules/{rule}",
    RULES_READ,
    doc=DOC + "messagerule-get",
)
async def get_rule(ctx: Ctx) -> Reply:
    """One rule."""
    return Reply(200, _rule_or_404(ctx.mailbox(), ctx.params["rule"]))


@router.add(
    "PATCH",
    "/users/{user}/mailFolders/{folder}/messageRules/{rule}",
    RULES_WRITE,
    doc=DOC + "messagerule-update",
)
async def update_rule(ctx: Ctx) -> Reply:
    """Update a rule."""
    box = ctx.mailbox()
    rule = _rule_or_404(box, ctx.params["rule"])
    updated = rule | _rule_body(ctx)
    _check_rule(ctx, box, updated, [r for r in box.rules if r is not rule])
    rule.update(updated)
    _place(box, rule)
    return Reply(200, rule)


@router.add(
    "DELETE",
    "/users/{user}/mailFolders/{folder}/messageRules/{rule}",
    RULES_WRITE,
    doc=DOC + "messagerule-delete",
)
async def delete_rule(ctx: Ctx) -> Reply:
    """Delete a rule."""
    box = ctx.mailbox()
    box.rules.remove(_rule_or_404(box, ctx.params["rule"]))
    return Reply(204, None)
