"""Pydantic models of the Microsoft Graph v1.0 resources Mamoru uses.

Field names are snake_case in Python and camelCase on the wire (the Graph
property names, checked against the official CSDL by a contract test).
``MessageRuleActions`` forbids unknown fields and has no field for ``delete``,
``permanentDelete``, ``forwardTo``, ``forwardAsAttachmentTo`` or ``redirectTo``:
a rule that destroys or leaks evidence cannot even be expressed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Rule actions Mamoru must never send; kept here so tests and the sandbox share one list.
FORBIDDEN_RULE_ACTIONS: frozenset[str] = frozenset(
    {"delete", "permanentDelete", "forwardTo", "forwardAsAttachmentTo", "redirectTo"}
)

# Well-known folders that dispose of mail: Deleted Items and Junk are emptied by retention
# policies, Recoverable Items is the purge path, Outbox sends. Mail is never moved there.
DISPOSAL_FOLDERS: frozenset[str] = frozenset(
    {
        "deleteditems",
        "junkemail",
        "outbox",
        "recoverableitemsroot",
        "recoverableitemsdeletions",
        "recoverableitemspurges",
        "recoverableitemsversions",
        "recoverableitemsdiscoveryholds",
    }
)


def refuse_disposal_folder(folder: str) -> str:
    """``folder`` unchanged, unless it names a folder that disposes of mail (ValueError)."""
    if folder.strip().lower() in DISPOSAL_FOLDERS:
        raise ValueError(f"Mamoru never moves mail to {folder}: it keeps evidence")
    return folder


class GraphModel(BaseModel):
    """Base: camelCase aliases, unknown Graph properties ignored on input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_graph(self) -> dict[str, Any]:
        """The JSON body Graph expects (camelCase, unset values and empty ids left out).

        An ``"id": ""`` is not "no id" to Graph: it is an invalid id (ErrorInvalidIdMalformed
        on sendMail), so a model read back with an empty id never writes it.
        """
        body: dict[str, Any] = _without_empty_ids(
            self.model_dump(by_alias=True, exclude_none=True, mode="json")
        )
        return body


def _without_empty_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty_ids(v) for k, v in value.items() if not (k == "id" and v == "")}
    if isinstance(value, list):
        return [_without_empty_ids(v) for v in value]
    return value


class EmailAddress(GraphModel):
    """emailAddress: a name and an SMTP address."""

    name: str | None = None
    address: str | None = None


class Recipient(GraphModel):
    """recipient: wraps an emailAddress."""

    email_address: EmailAddress


class ItemBody(GraphModel):
    """itemBody: text or HTML content."""

    content_type: str = "text"
    content: str = ""


class Message(GraphModel):
    """message (only the properties Mamoru selects or sends)."""

    id: str = ""
    internet_message_id: str | None = None
    subject: str | None = None
    from_: Recipient | None = Field(default=None, alias="from")
    sender: Recipient | None = None
    to_recipients: list[Recipient] | None = None
    received_date_time: dt.datetime | None = None
    parent_folder_id: str | None = None
    is_read: bool | None = None
    body: ItemBody | None = None

    @property
    def from_address(self) -> str:
        """The From address, lower-cased ("" when absent)."""
        if self.from_ and self.from_.email_address.address:
            return self.from_.email_address.address.lower()
        return ""


class MailFolder(GraphModel):
    """mailFolder."""

    id: str = ""
    display_name: str = ""
    parent_folder_id: str | None = None
    child_folder_count: int | None = None
    total_item_count: int | None = None
    unread_item_count: int | None = None


class MessageRulePredicates(GraphModel):
    """messageRulePredicates: the two conditions Mamoru uses."""

    from_addresses: list[Recipient] | None = None
    sender_contains: list[str] | None = None


class MessageRuleActions(GraphModel):
    """messageRuleActions restricted to evidence-safe actions; anything else is refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    move_to_folder: str | None = None
    mark_as_read: bool | None = None
    stop_processing_rules: bool | None = None

    @field_validator("move_to_folder")
    @classmethod
    def _keeps_evidence(cls, value: str | None) -> str | None:
        return None if value is None else refuse_disposal_folder(value)


class MessageRule(GraphModel):
    """messageRule as Mamoru writes it."""

    id: str | None = None
    display_name: str
    sequence: int = 1
    is_enabled: bool = True
    conditions: MessageRulePredicates
    actions: MessageRuleActions
    exceptions: MessageRulePredicates | None = None  # the rule skips mail matching these


class ExistingRule(GraphModel):
    """A rule read from a mailbox: actions kept raw because users' own rules may forward."""

    id: str
    display_name: str = ""
    sequence: int | None = None
    is_enabled: bool | None = None
    conditions: MessageRulePredicates | None = None
    exceptions: MessageRulePredicates | None = None
    actions: dict[str, Any] = Field(default_factory=dict)


class DateTimeTimeZone(GraphModel):
    """dateTimeTimeZone: a local date-time and its time zone name."""

    date_time: str
    time_zone: str = "UTC"


class Attendee(GraphModel):
    """attendee."""

    email_address: EmailAddress
    type: str = "required"


class Event(GraphModel):
    """event (a calendar entry, e.g. a follow-up meeting)."""

    id: str | None = None
    subject: str
    body: ItemBody | None = None
    start: DateTimeTimeZone
    end: DateTimeTimeZone
    attendees: list[Attendee] | None = None
    transaction_id: str | None = None


class DirectoryObject(GraphModel):
    """A group member as returned by /groups/{id}/members or /transitiveMembers.

    Without User.Read.All an app sees only ``id`` (and ``@odata.type``) of a member: the
    other properties are null, so Mamoru compares ids only.
    """

    id: str
    display_name: str | None = None
    user_principal_name: str | None = None
    mail: str | None = None
