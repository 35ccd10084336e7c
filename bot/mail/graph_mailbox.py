"""The ``Mailbox`` port over Microsoft Graph (``graph.mailbox``), built from Settings.

Graph errors are translated into the domain's ``MailboxError`` tree here, keeping
only the code and request id (Graph messages may contain addresses).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from bot.config import BotAuthType, GraphMode, Settings
from bot.domain.mailbox import (
    InvalidMailTarget,
    MailboxAccessDenied,
    MailboxCredentialsRejected,
    MailboxError,
    MailboxInvalidValue,
    MailboxNotFoundError,
    MailboxUnavailable,
    MailFolder,
    MailItem,
    RulesQuotaFull,
    SenderSpec,
)
from graph import errors
from graph.auth import (
    CertificateTokenProvider,
    ClientCredentialsTokenProvider,
    ClientSecretTokenProvider,
    ManagedIdentityTokenProvider,
    TokenProvider,
)
from graph.mailbox import GraphMailboxClient
from graph.models import (
    Attendee,
    DateTimeTimeZone,
    EmailAddress,
    Event,
    ItemBody,
    Message,
    MessageRule,
    MessageRuleActions,
    MessageRulePredicates,
    Recipient,
)
from graph.transport import GraphTransport, RetryPolicy

_TRANSLATION: tuple[tuple[type[errors.GraphError], type[MailboxError]], ...] = (
    (errors.MailboxNotFound, MailboxNotFoundError),
    (errors.QuotaExceeded, RulesQuotaFull),
    (errors.AccessDenied, MailboxAccessDenied),
    (errors.AuthenticationFailed, MailboxCredentialsRejected),
    (errors.InvalidValue, MailboxInvalidValue),
    (errors.Throttled, MailboxUnavailable),
    (errors.ServiceUnavailable, MailboxUnavailable),
)


def translate(exc: errors.GraphError) -> MailboxError:
    """The domain error for a Graph error (code and request id only, no message text)."""
    for graph_cls, domain_cls in _TRANSLATION:
        if isinstance(exc, graph_cls):
            return domain_cls(
                f"Graph {exc.code or exc.status}", code=exc.code, request_id=exc.request_id
            )
    return MailboxError(f"Graph {exc.code or exc.status}", code=exc.code, request_id=exc.request_id)


@asynccontextmanager
async def _graph_errors() -> AsyncIterator[None]:
    try:
        yield
    except errors.GraphError as exc:
        raise translate(exc) from exc


class GraphMailbox:
    """``Mailbox`` implemented with Microsoft Graph."""

    def __init__(self, client: GraphMailboxClient) -> None:
        self.client = client

    async def ensure_folder(self, mailbox: str, path: Sequence[str]) -> MailFolder:
        """The folder at Inbox/path..., created where missing."""
        async with _graph_errors():
            folder = await self.client.ensure_folder_path(mailbox, list(path))
        return MailFolder(folder.id, folder.display_name)

    async def ensure_rule(
        self, mailbox: str, name: str, sender: SenderSpec, folder_id: str
    ) -> None:
        """Create or update the rule: move to the folder, stop other rules.

        An address rule matches the address exactly and marks the mail read. A domain
        rule can only say "the sender contains @domain" (Graph has no exact-domain
        predicate), so every longer domain is listed as an exception
        (``SenderSpec.rule_exclusions``), and it does not mark mail read: what it
        catches stays visible as unread in the evidence folder.
        """
        exceptions = None
        if sender.address:
            recipient = Recipient(email_address=EmailAddress(address=sender.address))
            conditions = MessageRulePredicates(from_addresses=[recipient])
        else:
            conditions = MessageRulePredicates(sender_contains=["@" + (sender.domain or "")])
            exceptions = MessageRulePredicates(sender_contains=sender.rule_exclusions())
        rule = MessageRule(
            display_name=name,
            sequence=1,  # first, so no user rule (e.g. a forward) acts on this mail before it
            conditions=conditions,
            exceptions=exceptions,
            actions=MessageRuleActions(
                move_to_folder=folder_id,
                mark_as_read=bool(sender.address),  # sent even when False: updates old rules
                stop_processing_rules=True,
            ),
        )
        async with _graph_errors():
            await self.client.upsert_rule(mailbox, rule)

    async def messages_from(self, mailbox: str, sender: SenderSpec) -> list[MailItem]:
        """Every message from the sender across the mailbox."""
        items: list[MailItem] = []
        async with _graph_errors():
            async for page in self.client.list_sender_messages(
                mailbox, sender=sender.address, domain=sender.domain
            ):
                items.extend(
                    MailItem(
                        id=m.id,
                        internet_message_id=m.internet_message_id or "",
                        received_at=m.received_date_time or dt.datetime.now(dt.UTC),
                        sender=m.from_address,
                        subject=m.subject or "",
                        folder_id=m.parent_folder_id or "",
                        sender_name=(m.from_.email_address.name or "") if m.from_ else "",
                    )
                    for m in page
                )
        return items

    async def move(self, mailbox: str, message_id: str, folder_id: str) -> None:
        """Move one message."""
        async with _graph_errors():
            await self.client.move_message(mailbox, message_id, folder_id)

    async def mime(self, mailbox: str, message_id: str) -> bytes:
        """The MIME bytes."""
        async with _graph_errors():
            return await self.client.get_mime(mailbox, message_id)

    async def send_mail(self, mailbox: str, to: str, subject: str, body: str) -> None:
        """Send one plain-text mail from ``mailbox`` to ``to`` (kept in its Sent Items)."""
        message = Message(
            subject=subject,
            body=ItemBody(content_type="text", content=body),
            to_recipients=[Recipient(email_address=EmailAddress(address=to))],
        )
        async with _graph_errors():
            await self.client.send_mail(mailbox, message)

    async def create_event(
        self,
        mailbox: str,
        *,
        subject: str,
        body: str,
        start: dt.datetime,
        end: dt.datetime,
        transaction_id: str,
        attendees: Sequence[str] = (),
    ) -> str:
        """Create a calendar event in ``mailbox`` (its organiser), inviting ``attendees``.

        ``transaction_id`` makes a retry harmless. Exchange sends the invitations from
        ``mailbox``; the attendees' own calendars are never written by Mamoru.
        """
        event = Event(
            subject=subject,
            body=ItemBody(content_type="text", content=body),
            start=DateTimeTimeZone(date_time=_local(start), time_zone="UTC"),
            end=DateTimeTimeZone(date_time=_local(end), time_zone="UTC"),
            attendees=[
                Attendee(email_address=EmailAddress(address=a), type="required") for a in attendees
            ]
            or None,
            transaction_id=transaction_id,
        )
        async with _graph_errors():
            created = await self.client.create_event(mailbox, event)
        return created.id or ""

    async def is_member(self, group_id: str, object_id: str) -> bool:
        """Whether the user is in the group, nested groups included (GroupMember.Read.All).

        The ``GroupCheck`` that ``ManagerDirectory`` is given: one paged
        ``transitiveMembers?$select=id`` listing per group, cached briefly by the client.
        """
        async with _graph_errors():
            return await self.client.is_member(object_id, group_id)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self.client.transport.aclose()


def _local(value: dt.datetime) -> str:
    """A UTC wall-clock time as Graph's dateTime (no offset; the zone is given apart)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def token_provider(settings: Settings) -> TokenProvider:
    """The token provider the settings call for (sandbox, secret, certificate, managed identity)."""
    client_id = settings.graph_client_id or settings.client_id
    tenant_id = settings.graph_tenant_id or settings.tenant_id
    secret = (
        settings.graph_client_secret.get_secret_value() or settings.client_secret.get_secret_value()
    )
    if settings.graph_mode == GraphMode.SANDBOX:
        from graph.sandbox.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID

        if not settings.graph_client_id:
            client_id, secret = DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
        root = settings.graph_sandbox_url.rstrip("/")
        url = settings.graph_token_url or f"{root}/{tenant_id or DEMO_TENANT_ID}/oauth2/v2.0/token"
        return ClientCredentialsTokenProvider(url, client_id, secret)
    if settings.graph_auth_type == BotAuthType.USER_MANAGED_IDENTITY:
        return ManagedIdentityTokenProvider(client_id)
    if not client_id or not tenant_id:
        raise InvalidMailTarget(
            "no Graph app configured: set MAMORU_GRAPH_CLIENT_ID and MAMORU_GRAPH_TENANT_ID"
        )
    # graph_token_url overrides the authority (e.g. a sovereign cloud): msal wants the part
    # before /oauth2/, i.e. https://login.example/<tenant>.
    authority = settings.graph_token_url.split("/oauth2/")[0] if settings.graph_token_url else ""
    if settings.graph_auth_type == BotAuthType.CERTIFICATE:
        cert = settings.graph_certificate_path or settings.certificate_path
        if cert is None:
            raise InvalidMailTarget("set MAMORU_GRAPH_CERTIFICATE_PATH to the app's certificate")
        return CertificateTokenProvider(tenant_id, client_id, cert, authority=authority)
    if not secret:
        raise InvalidMailTarget("set MAMORU_GRAPH_CLIENT_SECRET (or use a certificate)")
    return ClientSecretTokenProvider(tenant_id, client_id, secret, authority=authority)


def graph_base_url(settings: Settings) -> str:
    """The Graph version root the settings point at."""
    if settings.graph_mode == GraphMode.SANDBOX:
        return settings.graph_sandbox_url.rstrip("/") + "/v1.0"
    return settings.graph_base_url


def graph_mailbox_from_settings(settings: Settings) -> GraphMailbox:
    """A ``GraphMailbox`` with one transport (one session) configured from Settings."""
    transport = GraphTransport(
        graph_base_url(settings),
        token_provider(settings),
        retry=RetryPolicy(max_total_seconds=settings.graph_retry_seconds),
        mailbox_concurrency=settings.graph_mailbox_concurrency,
    )
    return GraphMailbox(GraphMailboxClient(transport))
