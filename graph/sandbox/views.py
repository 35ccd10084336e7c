"""JSON shapes of sandbox resources, as Graph v1.0 returns them (property names from the CSDL)."""

from __future__ import annotations

from typing import Any

from graph.sandbox.state import Folder, Mailbox, StoredMessage, iso

# Every property name the sandbox emits per type: the contract test checks them against the CSDL.
MESSAGE_PROPERTIES = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "parentFolderId",
        "conversationId",
        "isRead",
        "isDraft",
        "body",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
    }
)
FOLDER_PROPERTIES = frozenset(
    {
        "id",
        "displayName",
        "parentFolderId",
        "childFolderCount",
        "unreadItemCount",
        "totalItemCount",
        "isHidden",
    }
)
RULE_PROPERTIES = frozenset(
    {
        "id",
        "displayName",
        "sequence",
        "isEnabled",
        "hasError",
        "isReadOnly",
        "conditions",
        "actions",
        "exceptions",
    }
)
EVENT_PROPERTIES = frozenset(
    {
        "id",
        "subject",
        "body",
        "start",
        "end",
        "attendees",
        "transactionId",
        "createdDateTime",
        "lastModifiedDateTime",
    }
)
ITEM_BODY_PROPERTIES = frozenset({"contentType", "content"})
EMAIL_ADDRESS_PROPERTIES = frozenset({"name", "address"})


def recipient(name: str, address: str) -> dict[str, Any]:
    """A recipient object."""
    return {"emailAddress": {"name": name, "address": address}}


def message_json(m: StoredMessage, immutable: bool) -> dict[str, Any]:
    """A message; ``id`` is the immutable id only if the client asked for it."""
    sender = recipient(m.from_name or m.from_address, m.from_address)
    return {
        "@odata.etag": f'W/"{m.rest_id[-12:]}"',
        "id": m.immutable_id if immutable else m.rest_id,
        "createdDateTime": iso(m.received),
        "lastModifiedDateTime": iso(m.received),
        "changeKey": m.rest_id[-12:],
        "categories": [],
        "receivedDateTime": iso(m.received),
        "sentDateTime": iso(m.received),
        "hasAttachments": False,
        "internetMessageId": m.internet_message_id,
        "subject": m.subject,
        "bodyPreview": m.body[:255],
        "importance": "normal",
        "parentFolderId": m.folder_id,
        "conversationId": m.conversation_id,
        "isRead": m.is_read,
        "isDraft": m.is_draft,
        "body": {"contentType": "text", "content": m.body},
        "sender": sender,
        "from": sender,
        "toRecipients": [recipient(n, a) for n, a in m.to],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
    }


def folder_json(box: Mailbox, f: Folder) -> dict[str, Any]:
    """A mail folder with its counts."""
    children = sum(1 for x in box.folders.values() if x.parent_id == f.id)
    inside = [m for m in box.messages.values() if m.folder_id == f.id]
    return {
        "id": f.id,
        "displayName": f.display_name,
        "parentFolderId": f.parent_id or "",
        "childFolderCount": children,
        "unreadItemCount": sum(1 for m in inside if not m.is_read),
        "totalItemCount": len(inside),
        "isHidden": False,
    }


def select(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Apply ``$select``: the listed properties plus ``id`` and ``@odata.etag``."""
    if not fields:
        return item
    keep = {"id", "@odata.etag", *fields}
    return {k: v for k, v in item.items() if k in keep}
