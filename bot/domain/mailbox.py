"""The ``Mailbox`` port: what mail protection needs from a mail system, and its errors.

Implemented over Microsoft Graph in ``bot/mail/graph_mailbox.py``. The port has
no operation that deletes, forwards or redirects mail: protection only moves
mail into an evidence folder and reads it.

Error messages carry codes and request ids only, never addresses or subjects,
since errors end up in logs; ``hint`` says what a person should do.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain.errors import DomainError

FOLDER_NAME_MAX = 255  # Exchange's limit on a folder's display name
_LABEL = re.compile(r"^(?!-)[^\s\x00-\x1f\x7f.@<>()\[\]\\,;:\"/]{1,63}(?<!-)$")
_LOCAL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>()\[\]\\,;:@]")


@dataclass(frozen=True, slots=True)
class SenderSpec:
    """Whose mail to protect against: one exact address, or every address of a domain."""

    address: str | None = None
    domain: str | None = None

    @property
    def kind(self) -> str:
        """``"address"`` or ``"domain"``."""
        return "address" if self.address else "domain"

    def matches(self, sender_address: str) -> bool:
        """Whether mail from ``sender_address`` is this sender's: exact, never a substring.

        A domain matches only itself: ``example.co`` is not ``example.com``,
        ``example.co.jp`` nor ``mail.example.co``. Comparison ignores case.
        """
        address = sender_address.strip().lower()
        if self.address:
            return address == self.address.lower()
        _, at, host = address.rpartition("@")
        return bool(at) and host == (self.domain or "").lower()

    def rule_exclusions(self) -> list[str]:
        """For a domain: the sender substrings that mark *another* domain (rule exceptions).

        Inbox rules can only match a domain as a substring (``senderContains``):
        ``@example.co`` is contained in ``@example.com`` and ``@example.co.jp`` too.
        Any other domain that contains it continues with one more host-name character,
        so excepting ``@example.co`` followed by each of ``a-z 0-9 - .`` leaves exactly
        the domain itself. Empty for an exact address (matched exactly by the rule).
        """
        if self.address or not self.domain:
            return []
        return [f"@{self.domain}{c}" for c in DOMAIN_CONTINUATIONS]


# Characters that can follow a domain inside a longer host name (rule matching ignores case).
DOMAIN_CONTINUATIONS = "abcdefghijklmnopqrstuvwxyz0123456789-."


@dataclass(frozen=True, slots=True)
class MailFolder:
    """A mail folder."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class MailItem:
    """One message, as protection sees it (``id`` is immutable across moves)."""

    id: str
    internet_message_id: str
    received_at: dt.datetime
    sender: str
    subject: str
    folder_id: str
    sender_name: str = ""  # the name in From, as the sender wrote it


class Mailbox(Protocol):
    """Evidence-safe operations on users' mailboxes."""

    async def ensure_folder(self, mailbox: str, path: Sequence[str]) -> MailFolder:
        """The folder at Inbox/path[0]/path[1]/..., created where missing."""
        ...

    async def ensure_rule(
        self, mailbox: str, name: str, sender: SenderSpec, folder_id: str
    ) -> None:
        """Create or update the inbox rule ``name`` moving the sender's new mail to the folder."""
        ...

    async def messages_from(self, mailbox: str, sender: SenderSpec) -> list[MailItem]:
        """Every message from the sender, in any folder of the mailbox."""
        ...

    async def move(self, mailbox: str, message_id: str, folder_id: str) -> None:
        """Move one message into a folder."""
        ...

    async def mime(self, mailbox: str, message_id: str) -> bytes:
        """The message's original MIME bytes."""
        ...


class MailboxError(DomainError):
    """A mailbox operation failed; ``hint`` names what to do."""

    hint = "Re-run the same command: it resumes where it stopped."

    def __init__(self, detail: str, *, code: str = "", request_id: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.request_id = request_id


class InvalidMailTarget(MailboxError):
    """The input (address, domain, case id, mailbox) is malformed; nothing was sent."""

    hint = "Correct the value and run the command again."


class MailboxNotFoundError(MailboxError):
    """The mailbox does not exist (or has no Exchange Online mailbox)."""

    hint = "Check the mailbox address (UPN) for typos and that the user has a mailbox."


class MailboxAccessDenied(MailboxError):
    """The app lacks a permission or is outside the mailbox's access scope."""

    hint = (
        "Grant the app Mail.ReadWrite and MailboxSettings.ReadWrite for this mailbox "
        "(Exchange RBAC for Applications, see docs/graph.md), then re-run."
    )


class MailboxCredentialsRejected(MailboxError):
    """The app's credentials are wrong, expired or revoked."""

    hint = (
        "Create a new client secret or certificate for the app in Entra ID, set "
        "MAMORU_GRAPH_CLIENT_SECRET (or MAMORU_GRAPH_CERTIFICATE_PATH), then re-run."
    )


class RulesQuotaFull(MailboxError):
    """The mailbox's inbox rules quota is full."""

    hint = (
        "The mailbox's inbox rules quota is full: delete or disable unused inbox rules "
        "(Outlook > Rules, or an Exchange admin), then re-run."
    )


class MailboxUnavailable(MailboxError):
    """The mail service is unavailable or throttling; nothing is lost."""

    hint = "The mail service is unavailable or busy; re-run later: it resumes where it stopped."


class MailboxInvalidValue(MailboxError):
    """The mail service refused a value (e.g. a folder name that is too long)."""

    hint = f"A value was refused (folder names: at most {FOLDER_NAME_MAX} characters); shorten it."


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(domain) <= 253 and len(labels) >= 2 and all(_LABEL.match(x) for x in labels)


def _invisible(value: str) -> bool:
    # Zero-width spaces, bidi marks, BOM: no sender writes them, so a rule would never match.
    return any(unicodedata.category(c) == "Cf" for c in value)


def parse_sender(address: str | None = None, domain: str | None = None) -> SenderSpec:
    """A validated ``SenderSpec`` (quotes and Unicode are fine; spaces, control chars aren't)."""
    if (address is None) == (domain is None):
        raise InvalidMailTarget("give exactly one of a sender address or a domain")
    if _invisible(address or domain or ""):
        raise InvalidMailTarget(
            "not a valid e-mail address or domain: it holds invisible characters "
            "(zero-width spaces or direction marks, often copied with it); type it again"
        )
    if domain is not None:
        value = domain.strip().removeprefix("@").lower()
        if not _valid_domain(value):
            raise InvalidMailTarget("not a valid mail domain (expected e.g. example.com)")
        return SenderSpec(domain=value)
    value = (address or "").strip()
    local, at, host = value.rpartition("@")
    if not at or not local or len(local) > 64 or len(value) > 254:
        raise InvalidMailTarget("not a valid e-mail address (expected e.g. name@example.com)")
    if _LOCAL_FORBIDDEN.search(local) or local.startswith(".") or local.endswith("."):
        raise InvalidMailTarget("not a valid e-mail address: spaces or control characters")
    if not _valid_domain(host):
        raise InvalidMailTarget("not a valid e-mail address: the domain part is malformed")
    return SenderSpec(address=value)


def protection_target(emails: Sequence[str], domains: Sequence[str]) -> SenderSpec | None:
    """Whose mail a case's mail protection covers: its first address, else its first domain.

    None when the case names neither or the first one is malformed (nothing to protect).
    """
    try:
        if emails:
            return parse_sender(address=emails[0])
        if domains:
            return parse_sender(domain=domains[0])
    except InvalidMailTarget:
        return None
    return None


def validate_case_id(case_id: str) -> str:
    """A case id usable as a folder name: 1-255 characters, no slashes or control chars."""
    value = case_id.strip()
    if not value or len(value) > FOLDER_NAME_MAX:
        raise InvalidMailTarget(
            f"the case id must be 1 to {FOLDER_NAME_MAX} characters (it names the evidence folder)"
        )
    if re.search(r"[/\\\x00-\x1f\x7f]", value) or value in {".", ".."}:
        raise InvalidMailTarget("the case id must not contain slashes or control characters")
    return value


_OBJECT_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def validate_mailbox(upn: str) -> str:
    """A mailbox: a UPN (user@domain) or the user's Entra object id (Graph takes both)."""
    value = upn.strip()
    if _OBJECT_ID.match(value):
        return value
    local, at, host = value.rpartition("@")
    if not at or not local or _LOCAL_FORBIDDEN.search(local) or not _valid_domain(host):
        raise InvalidMailTarget(
            "the mailbox must be a user principal name like user@city.example.jp"
        )
    return value
