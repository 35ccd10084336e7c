"""Mailbox operations on Microsoft Graph: folders, inbox rules, messages, move, MIME, mail, events.

There is deliberately no method here that deletes, forwards or redirects mail:
Mamoru keeps evidence, it never destroys or leaks it. Rules are built from
``MessageRuleActions``, which cannot express those actions either.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from urllib.parse import quote

from graph.errors import FolderExists, GraphError, NotFound, NotSent, ServiceUnavailable
from graph.models import (
    DirectoryObject,
    Event,
    ExistingRule,
    MailFolder,
    Message,
    MessageRule,
    refuse_disposal_folder,
)
from graph.transport import BatchItem, GraphTransport, odata_string

# What protection needs of a message, and nothing more (less data, faster pages).
MESSAGE_SELECT = "id,internetMessageId,subject,from,receivedDateTime,parentFolderId"
MAX_PAGE = 1000  # Graph's $top maximum for messages
MEMBERS_PAGE = 999  # Graph's $top maximum for directory collections (default 100)


def _seg(value: str) -> str:
    """One URL path segment (a UPN or id), percent-encoded."""
    return quote(value, safe="@")


def sha256_hex(data: bytes) -> str:
    """SHA-256 of bytes, as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


class GraphMailboxClient:
    """Typed mailbox operations over one ``GraphTransport``."""

    def __init__(self, transport: GraphTransport, *, membership_ttl: float = 60.0) -> None:
        self.transport = transport
        self.membership_ttl = membership_ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._member_locks: dict[str, asyncio.Lock] = {}

    # --- folders

    async def get_folder(self, mailbox: str, folder: str) -> MailFolder:
        """A folder by id or well-known name (inbox, archive, deleteditems, ...)."""
        body = await self.transport.get(
            f"/users/{_seg(mailbox)}/mailFolders/{_seg(folder)}", mailbox=mailbox
        )
        return MailFolder.model_validate(body)

    async def find_child_folder(self, mailbox: str, parent_id: str, name: str) -> MailFolder | None:
        """The child folder of ``parent_id`` named ``name``, or None."""
        params: dict[str, str | int] = {"$filter": f"displayName eq {odata_string(name)}"}
        path = f"/users/{_seg(mailbox)}/mailFolders/{_seg(parent_id)}/childFolders"
        async for page in self.transport.iter_pages(path, mailbox=mailbox, params=params):
            for raw in page:
                folder = MailFolder.model_validate(raw)
                if folder.display_name == name:
                    return folder
        return None

    async def create_child_folder(self, mailbox: str, parent_id: str, name: str) -> MailFolder:
        """Create a child folder (raises ``FolderExists`` if the name is taken)."""
        path = f"/users/{_seg(mailbox)}/mailFolders/{_seg(parent_id)}/childFolders"
        resp = await self.transport.request(
            "POST", path, mailbox=mailbox, json={"displayName": name}
        )
        return MailFolder.model_validate(resp.body)

    async def ensure_folder_path(
        self, mailbox: str, names: Sequence[str], *, root: str = "inbox"
    ) -> MailFolder:
        """The folder at ``root/names[0]/names[1]/...``, creating what is missing."""
        folder = await self.get_folder(mailbox, root)
        for name in names:
            try:
                folder = await self.create_child_folder(mailbox, folder.id, name)
            except FolderExists:
                # Graph answers 400 or 409 with this code; the code is what counts.
                found = await self.find_child_folder(mailbox, folder.id, name)
                if found is None:
                    raise
                folder = found
        return folder

    # --- rules

    async def list_rules(self, mailbox: str) -> list[ExistingRule]:
        """The inbox rules of the mailbox."""
        path = f"/users/{_seg(mailbox)}/mailFolders/inbox/messageRules"
        rules: list[ExistingRule] = []
        async for page in self.transport.iter_pages(path, mailbox=mailbox):
            rules.extend(ExistingRule.model_validate(r) for r in page)
        return rules

    async def upsert_rule(
        self, mailbox: str, rule: MessageRule, *, attempts: int = 4
    ) -> MessageRule:
        """Create the rule, or update the existing one with the same display name."""
        base = f"/users/{_seg(mailbox)}/mailFolders/inbox/messageRules"
        payload = rule.model_copy(update={"id": None}).to_graph()
        for attempt in range(1, attempts + 1):
            existing = next(
                (r for r in await self.list_rules(mailbox) if r.display_name == rule.display_name),
                None,
            )
            if existing is not None:
                resp = await self.transport.request(
                    "PATCH", f"{base}/{_seg(existing.id)}", mailbox=mailbox, json=payload
                )
                return MessageRule.model_validate(resp.body)
            try:
                # Not retried blindly: a POST whose answer was lost may have created the
                # rule, so after a failure the rules are listed again before another POST.
                resp = await self.transport.request(
                    "POST", base, mailbox=mailbox, json=payload, idempotent=False
                )
                return MessageRule.model_validate(resp.body)
            except ServiceUnavailable:
                if attempt == attempts:
                    raise
                policy = self.transport.retry_policy
                await asyncio.sleep(min(policy.backoff_max, policy.backoff_base * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- messages

    async def list_sender_messages(
        self,
        mailbox: str,
        *,
        sender: str | None = None,
        domain: str | None = None,
        page_size: int = MAX_PAGE,
    ) -> AsyncIterator[list[Message]]:
        """Pages of messages from ``sender`` (exact) or ``domain``, across all folders."""
        if (sender is None) == (domain is None):
            raise ValueError("give exactly one of sender or domain")
        params: dict[str, str | int] = {"$select": MESSAGE_SELECT, "$top": min(page_size, MAX_PAGE)}
        if sender is not None:
            # The quoted literal is data, never syntax: x' or 1 eq 1 is just a strange address.
            params["$filter"] = f"from/emailAddress/address eq {odata_string(sender)}"
        suffix = "@" + (domain or "").lower()
        path = f"/users/{_seg(mailbox)}/messages"
        pages = self.transport.iter_pages(path, mailbox=mailbox, params=params, shrink_on_504=True)
        async for page in pages:
            messages = [Message.model_validate(m) for m in page]
            if domain is not None:
                # Exchange can't filter on an address suffix, so the domain is matched here.
                messages = [m for m in messages if m.from_address.endswith(suffix)]
            yield messages

    async def get_message(self, mailbox: str, message_id: str) -> Message:
        """One message (protection's selected properties)."""
        body = await self.transport.get(
            f"/users/{_seg(mailbox)}/messages/{_seg(message_id)}",
            mailbox=mailbox,
            params={"$select": MESSAGE_SELECT},
        )
        return Message.model_validate(body)

    async def move_message(self, mailbox: str, message_id: str, destination_id: str) -> Message:
        """Move a message; with immutable ids its id stays the same."""
        refuse_disposal_folder(destination_id)
        resp = await self.transport.request(
            "POST",
            f"/users/{_seg(mailbox)}/messages/{_seg(message_id)}/move",
            mailbox=mailbox,
            json={"destinationId": destination_id},
        )
        return Message.model_validate(resp.body)

    async def move_messages(
        self, mailbox: str, message_ids: Sequence[str], destination_id: str
    ) -> dict[str, Message | GraphError]:
        """Move many messages through ``$batch``; each id maps to its moved message or error."""
        refuse_disposal_folder(destination_id)
        items = [
            BatchItem(
                str(n),
                "POST",
                f"/users/{_seg(mailbox)}/messages/{_seg(mid)}/move",
                {"destinationId": destination_id},
            )
            for n, mid in enumerate(message_ids)
        ]
        results = await self.transport.batch(items, mailbox=mailbox)
        out: dict[str, Message | GraphError] = {}
        for n, mid in enumerate(message_ids):
            result = results[str(n)]
            out[mid] = Message.model_validate(result.body) if result.ok else result.error()
        return out

    async def get_mime(self, mailbox: str, message_id: str) -> bytes:
        """The message's MIME (``$value``) bytes, as Graph builds them."""
        resp = await self.transport.request(
            "GET",
            f"/users/{_seg(mailbox)}/messages/{_seg(message_id)}/$value",
            mailbox=mailbox,
            raw=True,
        )
        data: bytes = resp.body
        return data

    async def send_mail(self, mailbox: str, message: Message, *, save_to_sent: bool = True) -> None:
        """Send a mail from ``mailbox`` (202). Never retried after a possibly-executed attempt."""
        try:
            await self.transport.request(
                "POST",
                f"/users/{_seg(mailbox)}/sendMail",
                mailbox=mailbox,
                json={"message": message.to_graph(), "saveToSentItems": save_to_sent},
                idempotent=False,
            )
        except ServiceUnavailable as exc:
            raise NotSent(exc.message, code=exc.code, status=exc.status) from exc

    async def create_event(self, mailbox: str, event: Event) -> Event:
        """Create a calendar event; ``transaction_id`` makes a retried POST harmless."""
        if not event.transaction_id:
            raise ValueError("set event.transaction_id so a retry cannot duplicate the event")
        resp = await self.transport.request(
            "POST", f"/users/{_seg(mailbox)}/events", mailbox=mailbox, json=event.to_graph()
        )
        return Event.model_validate(resp.body)

    # --- groups (managers)

    async def list_group_members(self, group_id: str) -> list[DirectoryObject]:
        """Direct members of a group (GroupMember.Read.All), every page."""
        members: list[DirectoryObject] = []
        params: dict[str, str | int] = {"$select": "id,displayName", "$top": MEMBERS_PAGE}
        async for page in self.transport.iter_pages(
            f"/groups/{_seg(group_id)}/members", params=params
        ):
            members.extend(DirectoryObject.model_validate(m) for m in page)
        return members

    async def transitive_member_ids(self, group_id: str) -> frozenset[str]:
        """Object ids of every member of a group, nested groups flattened, every page.

        ``GET /groups/{id}/transitiveMembers?$select=id``: GroupMember.Read.All is its least
        privileged application permission (``checkMemberGroups`` on a user would need
        User.Read.All as well). Ids are lower-cased (Entra ids are GUIDs).
        """
        ids: set[str] = set()
        params: dict[str, str | int] = {"$select": "id", "$top": MEMBERS_PAGE}
        async for page in self.transport.iter_pages(
            f"/groups/{_seg(group_id)}/transitiveMembers", params=params
        ):
            ids.update(str(m.get("id", "")).lower() for m in page if m.get("id"))
        return frozenset(ids)

    async def is_member(self, object_id: str, group_id: str) -> bool:
        """Whether the Entra object id is a (transitive) member of the group.

        The group's member list is cached for ``membership_ttl`` seconds (one listing serves
        every check meanwhile; concurrent checks share one listing), so someone removed from
        the group loses access within that time. A group that does not exist has no members.
        """
        now = time.monotonic()
        cached = self._members.get(group_id)
        if cached is None or now - cached[0] >= self.membership_ttl:
            lock = self._member_locks.setdefault(group_id, asyncio.Lock())
            async with lock:
                cached = self._members.get(group_id)
                if cached is None or time.monotonic() - cached[0] >= self.membership_ttl:
                    try:
                        members = await self.transitive_member_ids(group_id)
                    except NotFound:
                        members = frozenset()
                    cached = (time.monotonic(), members)
                    self._members[group_id] = cached
        return object_id.lower() in cached[1]
