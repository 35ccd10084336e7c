"""The sandbox's in-memory tenant: apps, users, mailboxes, folders, messages, rules, groups.

Semantics follow Exchange Online where Mamoru depends on them: message ids are
REST ids that change when a message moves, unless the client asked for
immutable ids; well-known folder names resolve to folder ids; inbox rules run
on newly delivered mail (only evidence-safe actions are carried out); MIME is
stable bytes built at delivery.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

WELL_KNOWN = (
    ("msgfolderroot", "Top of Information Store", None),
    ("inbox", "Inbox", "msgfolderroot"),
    ("drafts", "Drafts", "msgfolderroot"),
    ("sentitems", "Sent Items", "msgfolderroot"),
    ("deleteditems", "Deleted Items", "msgfolderroot"),
    ("junkemail", "Junk Email", "msgfolderroot"),
    ("archive", "Archive", "msgfolderroot"),
    ("outbox", "Outbox", "msgfolderroot"),
)


def new_id(prefix: str = "AAMk") -> str:
    """An opaque Exchange-looking id (URL-safe base64)."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode().rstrip("=")


def utcnow() -> dt.datetime:
    """Now in UTC, to the second (Graph's resolution)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(value: dt.datetime) -> str:
    """Graph's date-time format: ``2026-11-23T10:00:00Z``."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Permissions Exchange Online RBAC for Applications can grant (and limit to a scope).
EXCHANGE_ROLE_PREFIXES = ("Mail.", "MailboxSettings.", "Calendars.", "Contacts.")


def is_exchange_role(role: str) -> bool:
    """Whether a Graph application permission is one Exchange RBAC for Applications covers."""
    return role.startswith(EXCHANGE_ROLE_PREFIXES)


@dataclass
class App:
    """A registered application with its granted application permissions ('roles').

    ``tenant_wide``: the Exchange roles come from an Entra admin consent (they are in the
    token's ``roles`` claim and reach every mailbox). Otherwise they are granted through
    Exchange RBAC for Applications: absent from the token, limited to ``mailbox_scope``.
    Entra roles (e.g. GroupMember.Read.All) are in the token either way.

    ``rbac_ready_at`` (``time.time()``): Exchange applies a new RBAC for Applications
    assignment after 30 minutes to 2 hours; until then the scoped roles are refused (403)
    although they are granted. ``Tenant.add_app(propagation_seconds=...)`` sets it.
    """

    client_id: str
    client_secret: str
    roles: set[str]
    mailbox_scope: set[str] | None = None  # RBAC for Applications: None = every mailbox
    secret_expired: bool = False
    revoked: bool = False
    tenant_wide: bool = True
    rbac_ready_at: float = 0.0

    def rbac_pending(self) -> bool:
        """Whether the RBAC for Applications grants are still propagating."""
        return not self.tenant_wide and time.time() < self.rbac_ready_at

    def token_roles(self) -> list[str]:
        """The ``roles`` claim: Entra grants only (RBAC for Applications grants never appear)."""
        return sorted(r for r in self.roles if self.tenant_wide or not is_exchange_role(r))


@dataclass
class User:
    """A directory user with a mailbox."""

    id: str
    upn: str
    display_name: str


@dataclass
class Group:
    """A security group (e.g. the managers)."""

    id: str
    display_name: str
    member_ids: list[str] = field(default_factory=list)


@dataclass
class Folder:
    """A mail folder."""

    id: str
    display_name: str
    parent_id: str | None
    well_known: str | None = None


@dataclass
class StoredMessage:
    """A message in a mailbox."""

    immutable_id: str
    rest_id: str
    folder_id: str
    internet_message_id: str
    subject: str
    from_name: str
    from_address: str
    to: list[tuple[str, str]]
    received: dt.datetime
    body: str
    mime: bytes
    is_read: bool = False
    conversation_id: str = ""
    is_draft: bool = False


@dataclass
class Mailbox:
    """One user's mailbox."""

    user: User
    folders: dict[str, Folder] = field(default_factory=dict)
    well_known: dict[str, str] = field(default_factory=dict)
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    rest_index: dict[str, str] = field(default_factory=dict)  # current rest id -> immutable id
    rules: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_tx: dict[str, str] = field(default_factory=dict)

    def folder(self, ref: str) -> Folder | None:
        """A folder by id or well-known name."""
        fid = self.well_known.get(ref.lower(), ref)
        return self.folders.get(fid)

    def message(self, ref: str) -> StoredMessage | None:
        """A message by immutable id or its current REST id (old REST ids are gone)."""
        if ref in self.messages:
            return self.messages[ref]
        imm = self.rest_index.get(ref)
        return self.messages.get(imm) if imm else None


@dataclass
class RecordedRequest:
    """One request the sandbox received (tests prove what did and didn't leave the client)."""

    method: str
    path: str
    query: str
    app_id: str
    body: Any
    in_batch: bool = False
    status: int = 0


def _address_header(name: str, address: str) -> str:
    # formataddr refuses non-ASCII addresses; SMTPUTF8 mail (EAI) carries them raw.
    try:
        return formataddr((name, address))
    except UnicodeEncodeError:
        return f"{name} <{address}>" if name else address


def build_mime(
    from_name: str,
    from_address: str,
    to: list[tuple[str, str]],
    subject: str,
    body: str,
    received: dt.datetime,
    internet_message_id: str,
) -> bytes:
    """RFC 5322 bytes for a message (UTF-8 headers allowed, as Exchange delivers EAI mail)."""
    msg = EmailMessage(policy=policy.SMTPUTF8)
    msg["From"] = _address_header(from_name, from_address)
    msg["To"] = ", ".join(_address_header(n, a) for n, a in to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(received)
    msg["Message-ID"] = internet_message_id
    msg.set_content(body)
    return msg.as_bytes()


class Tenant:
    """Everything the sandbox knows."""

    def __init__(self, tenant_id: str = "00000000-0000-0000-0000-00000000c1t7") -> None:
        self.tenant_id = tenant_id
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}  # by id
        self.by_upn: dict[str, str] = {}  # lower-case upn -> id
        self.mailboxes: dict[str, Mailbox] = {}  # by user id
        self.groups: dict[str, Group] = {}
        self.requests: deque[RecordedRequest] = deque(maxlen=200_000)

    # --- directory

    def add_app(
        self,
        client_id: str,
        secret: str,
        roles: set[str],
        scope: set[str] | None = None,
        *,
        tenant_wide: bool | None = None,
        propagation_seconds: float = 0.0,
    ) -> App:
        """Register an app with its roles and optional mailbox scope (scoped: via RBAC).

        ``propagation_seconds``: how long the RBAC assignment takes to reach Graph.
        """
        app = App(client_id, secret, set(roles), {s.lower() for s in scope} if scope else None)
        app.tenant_wide = scope is None if tenant_wide is None else tenant_wide
        app.rbac_ready_at = time.time() + propagation_seconds
        self.apps[client_id] = app
        return app

    def add_user(self, upn: str, display_name: str, *, user_id: str = "") -> Mailbox:
        """Create a user with a mailbox and its well-known folders (``user_id``: fixed id)."""
        user = User(user_id or str(uuid.uuid4()), upn, display_name)
        self.users[user.id] = user
        self.by_upn[upn.lower()] = user.id
        box = Mailbox(user)
        for name, display, parent in WELL_KNOWN:
            folder = Folder(new_id("AAMkF"), display, box.well_known.get(parent or ""), name)
            box.folders[folder.id] = folder
            box.well_known[name] = folder.id
        self.mailboxes[user.id] = box
        return box

    def add_group(self, display_name: str, members: list[str], *, group_id: str = "") -> Group:
        """Create a group whose members are the given UPNs or group ids (nested groups).

        ``group_id``: a fixed id.
        """
        ids = [m if m in self.groups else self.by_upn[m.lower()] for m in members]
        group = Group(group_id or str(uuid.uuid4()), display_name, ids)
        self.groups[group.id] = group
        return group

    def domains(self) -> set[str]:
        """The tenant's mail domains (a token request may name the tenant by one)."""
        return {u.upn.split("@", 1)[1].lower() for u in self.users.values() if "@" in u.upn}

    def user(self, ref: str) -> User | None:
        """A user by id or UPN (case-insensitive)."""
        uid = self.by_upn.get(ref.lower(), ref)
        return self.users.get(uid)

    def mailbox(self, ref: str) -> Mailbox | None:
        """A mailbox by user id or UPN."""
        user = self.user(ref)
        return self.mailboxes.get(user.id) if user else None

    # --- mail

    def deliver(
        self,
        box: Mailbox,
        *,
        from_address: str,
        subject: str,
        body: str,
        from_name: str = "",
        received: dt.datetime | None = None,
        folder: str = "inbox",
        apply_rules: bool = True,
        is_read: bool = False,
    ) -> StoredMessage:
        """Put a new message into a folder (inbox: the mailbox's rules run on it)."""
        received = received or utcnow()
        imid = f"<{uuid.uuid4().hex}@sandbox.mamoru.invalid>"
        to = [(box.user.display_name, box.user.upn)]
        mime = build_mime(from_name, from_address, to, subject, body, received, imid)
        target = box.folder(folder)
        if target is None:
            raise KeyError(folder)
        msg = StoredMessage(
            immutable_id=new_id("AAkALg"),
            rest_id="",
            folder_id=target.id,
            internet_message_id=imid,
            subject=subject,
            from_name=from_name,
            from_address=from_address,
            to=to,
            received=received,
            body=body,
            mime=mime,
            is_read=is_read,
            conversation_id=new_id("AAQk"),
        )
        self._reindex(box, msg)
        box.messages[msg.immutable_id] = msg
        if apply_rules and target.well_known == "inbox":
            self.apply_rules(box, msg)
        return msg

    def _reindex(self, box: Mailbox, msg: StoredMessage) -> None:
        box.rest_index.pop(msg.rest_id, None)
        msg.rest_id = new_id("AAMkAG")  # a REST id encodes the folder: a new one on every move
        box.rest_index[msg.rest_id] = msg.immutable_id

    def move(self, box: Mailbox, msg: StoredMessage, folder: Folder) -> StoredMessage:
        """Move a message; its REST id changes, its immutable id doesn't."""
        if msg.folder_id != folder.id:
            msg.folder_id = folder.id
            self._reindex(box, msg)
        return msg

    def apply_rules(self, box: Mailbox, msg: StoredMessage) -> None:
        """Run enabled inbox rules in sequence order (only the evidence-safe actions act)."""
        for rule in sorted(box.rules, key=lambda r: r.get("sequence") or 0):
            if not rule.get("isEnabled", True) or not _matches(rule.get("conditions") or {}, msg):
                continue
            if _matches(rule.get("exceptions") or {}, msg):
                continue  # an exception wins over the conditions, as in Exchange
            actions = rule.get("actions") or {}
            if actions.get("markAsRead"):
                msg.is_read = True
            dest = actions.get("moveToFolder")
            if dest and (folder := box.folder(dest)) is not None:
                self.move(box, msg, folder)
            if actions.get("stopProcessingRules"):
                break


def _matches(conditions: dict[str, Any], msg: StoredMessage) -> bool:
    """Whether a message meets every condition Mamoru's sandbox understands."""
    sender = msg.from_address.lower()
    checks: list[bool] = []
    if addrs := conditions.get("fromAddresses"):
        wanted = {str((a.get("emailAddress") or {}).get("address", "")).lower() for a in addrs}
        checks.append(sender in wanted)
    if subs := conditions.get("senderContains"):
        hay = f"{msg.from_name} {sender}".lower()
        checks.append(any(str(s).lower() in hay for s in subs))
    return bool(checks) and all(checks)
