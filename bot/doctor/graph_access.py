"""Graph permission checks: the token's roles, the bot's own calls per mailbox, refusals.

Mamoru's mail permissions must come from Exchange Online RBAC for Applications,
limited to the opted-in mailboxes. Such grants never appear in the access
token; a mail role in the token's ``roles`` claim therefore means a tenant-wide
Entra admin consent, which reaches every mailbox (RBAC adds to it, it doesn't
limit it).

Per mailbox in scope (the one given and the department mailbox) doctor makes the calls
the bot makes, with the same paths and methods: listing the sender's mail, MIME download,
the evidence folder, the inbox rule, the move; on the department mailbox also sendMail and
the follow-up event; for managers defined by a group, the ``transitiveMembers`` listing.
It changes nothing: each write is sent in a form that cannot take effect (a folder or rule
without a name, a move of an id that does not exist, a mail without recipients, an event
that ends before it starts). Authorisation comes first: a 403 means the permission or the
scope is missing; Graph's 400/404 about the body or id means the call was allowed.
Then it checks what must be refused: a mailbox that did not opt in, and a manager's
mailbox (the guide's scope never includes them).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.config import GraphMode, Settings
from bot.doctor import Finding, fail, ok, warn
from bot.domain.mailbox import MailboxError
from bot.mail.graph_mailbox import graph_base_url, token_provider
from graph import errors
from graph.auth import TokenProvider
from graph.transport import GraphTransport, RetryPolicy

AREA = "Graph"
EXCHANGE_ROLE_PREFIXES = ("Mail.", "MailboxSettings.", "Calendars.", "Contacts.")
MAIL_ROLES = ("Mail.ReadWrite", "MailboxSettings.ReadWrite", "Mail.Send", "Calendars.ReadWrite")
GROUP_ROLE = "GroupMember.Read.All"
ONE_ID: dict[str, str | int] = {"$top": 1, "$select": "id"}
# A message id that cannot exist (well-formed base64, no such item).
NO_SUCH_ID = "AAMkAGRvY3Rvci1wcm9iZS1uby1zdWNoLWl0ZW0AAA=="
# An event that ends before it starts: Exchange refuses it with 400
# ErrorPropertyValidationFailure (microsoftgraph/microsoft-graph-docs issue 7919). An empty
# body is not enough: Graph may fill in what is missing and create a blank event.
INVERTED_EVENT: dict[str, Any] = {
    "subject": "Mamoru doctor probe (never created)",
    "start": {"dateTime": "2000-01-02T00:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2000-01-01T00:00:00", "timeZone": "UTC"},
}


@dataclass(frozen=True)
class Probe:
    """One call the bot makes, in a form that cannot change anything."""

    permission: str
    name: str
    method: str
    path: str  # under /users/{mailbox}/
    params: dict[str, str | int] = field(default_factory=dict)
    body: Any = None
    department_only: bool = False


# What protection, notices and follow-ups call (graph/mailbox.py), in the order they run.
PROBES: tuple[Probe, ...] = (
    Probe("Mail.ReadWrite", "Mail: list messages", "GET", "messages", dict(ONE_ID)),
    Probe(
        "Mail.ReadWrite", "Mail: evidence folder", "POST", "mailFolders/inbox/childFolders", {}, {}
    ),
    Probe("MailboxSettings.ReadWrite", "Rules: list", "GET", "mailFolders/inbox/messageRules"),
    Probe(
        "MailboxSettings.ReadWrite",
        "Rules: create",
        "POST",
        "mailFolders/inbox/messageRules",
        {},
        {},
    ),
    Probe(
        "Mail.ReadWrite",
        "Mail: move",
        "POST",
        f"messages/{NO_SUCH_ID}/move",
        {},
        {"destinationId": "inbox"},
    ),
    Probe(
        "Mail.Send",
        "Mail: send",
        "POST",
        "sendMail",
        {},
        {"message": {"subject": "", "toRecipients": []}, "saveToSentItems": False},
        department_only=True,
    ),
    Probe(
        "Calendars.ReadWrite",
        "Calendar: follow-up event",
        "POST",
        "events",
        {},
        INVERTED_EVENT,
        department_only=True,
    ),
)
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# Short: a diagnostic must answer in seconds, not wait out a throttling window.
DOCTOR_RETRY = RetryPolicy(max_attempts=3, max_total_seconds=20.0, backoff_max=5.0)
_CONSENT_FIX = (
    "remove the tenant-wide consent: Entra admin center → Enterprise applications → "
    "Mamoru's identity → Permissions → revoke the Microsoft Graph mail permissions (or "
    "Remove-MgServicePrincipalAppRoleAssignment); deploy/exchange/Grant-MamoruMailboxAccess.ps1 "
    "-CheckEntraConsent lists them. Mail access must come only from Exchange RBAC for "
    "Applications (deploy/README.md step 5)"
)
_SCOPE_FIX = (
    "limit the management scope to the opted-in group: re-run "
    "deploy/exchange/Grant-MamoruMailboxAccess.ps1 -ScopeGroup <group> (it checks both ways "
    "with Test-ServicePrincipalAuthorization), and remove any tenant-wide Entra consent"
)
_SANDBOX_HINT = (
    " (sandbox: the demo's least-privilege app is used when MAMORU_GRAPH_CLIENT_ID is empty)"
)


def is_exchange_role(role: str) -> bool:
    """Whether a permission is one Exchange RBAC for Applications grants per mailbox."""
    return role.startswith(EXCHANGE_ROLE_PREFIXES)


def token_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, decoded without verifying the signature.

    Safe for a diagnostic: the token comes straight from the token endpoint to this
    process, and doctor only reads which roles it was granted; Graph verifies the
    signature on every call. Raises ValueError for a token that is not a JWT.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    claims = json.loads(payload)
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")
    return claims


def check_roles(settings: Settings, roles: list[str]) -> list[Finding]:
    """What the token's ``roles`` claim says about tenant-wide grants."""
    hint = _SANDBOX_HINT if settings.graph_mode is GraphMode.SANDBOX else ""
    findings: list[Finding] = []
    mail = sorted(r for r in roles if is_exchange_role(r))
    if mail:
        findings.append(
            fail(
                AREA,
                "Tenant-wide consent",
                f"the token carries {', '.join(mail)}: an Entra admin consent lets Mamoru read "
                "and send mail in EVERY mailbox",
                _CONSENT_FIX + hint,
            )
        )
    else:
        findings.append(
            ok(
                AREA,
                "Tenant-wide consent",
                "none in the token: mail access comes only from Exchange RBAC for Applications",
            )
        )
    group = bool(settings.manager_group_id)
    if group and GROUP_ROLE not in roles:
        findings.append(
            fail(
                AREA,
                GROUP_ROLE,
                "managers are a group but the token lacks GroupMember.Read.All",
                "run deploy/exchange/Grant-MamoruGroupMemberRead.ps1 (deploy/README.md step 5.3)",
            )
        )
    elif group:
        findings.append(ok(AREA, GROUP_ROLE, "granted (managers are a group)"))
    elif GROUP_ROLE in roles:
        findings.append(
            warn(
                AREA,
                GROUP_ROLE,
                "granted but not needed: managers are listed by id",
                "remove the GroupMember.Read.All app role assignment in Entra",
            )
        )
    extra = sorted(r for r in roles if not is_exchange_role(r) and r != GROUP_ROLE)
    if extra:
        findings.append(
            warn(
                AREA,
                "Other permissions",
                f"not needed by Mamoru: {', '.join(extra)}",
                "remove these app role assignments from Mamoru's identity in Entra",
            )
        )
    return findings


@asynccontextmanager
async def _graph_settings(settings: Settings) -> AsyncIterator[Settings]:
    """The settings to test with; sandbox + embedded: a demo local Graph service of our own."""
    if settings.graph_mode is not GraphMode.SANDBOX or not settings.graph_sandbox_embedded:
        yield settings
        return
    from graph.sandbox import Tenant, make_sandbox, seed_demo, start_sandbox

    tenant = Tenant()
    seed_demo(tenant, flood=0)
    running = await start_sandbox(make_sandbox(tenant))  # a free port: `serve` may hold 5280
    try:
        yield settings.model_copy(update={"graph_sandbox_url": running.root_url})
    finally:
        await running.close()


def default_outside_mailbox(settings: Settings) -> str:
    """The demo office's mailbox that did not opt in (sandbox only), else nothing."""
    if settings.graph_mode is not GraphMode.SANDBOX:
        return ""
    from graph.sandbox.seed import DEMO_OUTSIDE_MAILBOX

    return DEMO_OUTSIDE_MAILBOX


async def check_graph(settings: Settings, *, mailbox: str, outside_mailbox: str) -> list[Finding]:
    """Sign in as the bot does, read the token's roles, then probe Graph."""
    async with _graph_settings(settings) as effective:
        try:
            provider = token_provider(effective)
        except MailboxError as exc:
            return [fail(AREA, "Sign-in", str(exc), "see deploy/README.md step 2")]
        transport = GraphTransport(graph_base_url(effective), provider, retry=DOCTOR_RETRY)
        try:
            return await _probe(effective, transport, provider, mailbox, outside_mailbox)
        finally:
            await transport.aclose()


async def _probe(
    settings: Settings,
    transport: GraphTransport,
    provider: TokenProvider,
    mailbox: str,
    outside: str,
) -> list[Finding]:
    try:
        token = await provider.token(transport.session)  # the bot's own way to a token
    except errors.GraphError as exc:
        return [fail(AREA, "Sign-in", f"no token: {exc.code or exc.status}", exc.hint)]
    try:
        claims = token_claims(token)
    except ValueError as exc:
        findings = [warn(AREA, "Sign-in", f"token obtained, roles unreadable ({exc})", "")]
    else:
        app = claims.get("appid") or claims.get("azp") or "?"
        findings = [ok(AREA, "Sign-in", f"token for app {app} (tenant {claims.get('tid', '?')})")]
        findings += check_roles(settings, [str(r) for r in claims.get("roles") or []])
    mailboxes = [m for m in dict.fromkeys([mailbox, settings.department_mailbox]) if m]
    if not mailboxes:
        findings.append(
            fail(
                AREA,
                "Opted-in mailbox",
                "no mailbox to test the permissions on",
                "set MAMORU_DEPARTMENT_MAILBOX or pass --mailbox <UPN of an opted-in mailbox>",
            )
        )
    for box in mailboxes:
        department = box.lower() == settings.department_mailbox.lower()
        for probe in PROBES:
            if probe.department_only and not department:
                continue
            findings.append(await _probe_call(transport, box, probe))
        findings.append(await _mime(transport, box))
    if not settings.department_mailbox:
        findings.append(
            warn(
                AREA,
                "Department mailbox",
                "not set: notices cannot be sent and follow-up events cannot be created",
                "set MAMORU_DEPARTMENT_MAILBOX to a mailbox in the management scope",
            )
        )
    members: list[str] = []
    if settings.manager_group_id:
        finding, members = await _group_members(transport, settings.manager_group_id)
        findings.append(finding)
    findings.append(await _must_be_refused(transport, mailbox, outside))
    if members:
        findings.append(await _manager_mailbox_refused(transport, members[0], mailboxes))
    return findings


def _missing(permission: str, mailbox: str) -> str:
    return (
        f"grant Application {permission} to the opted-in group with "
        "deploy/exchange/Grant-MamoruMailboxAccess.ps1 and check that "
        f"{mailbox} is in the group; Exchange may take 30 minutes to 2 hours to apply new "
        "assignments"
    )


async def _probe_call(transport: GraphTransport, mailbox: str, probe: Probe) -> Finding:
    try:
        await transport.request(
            probe.method,
            f"/users/{_seg(mailbox)}/{probe.path}",
            mailbox=mailbox,
            params=probe.params or None,
            json=probe.body,
            idempotent=probe.method == "GET",
        )
    except errors.AccessDenied:
        return fail(
            AREA, probe.name, f"refused on {mailbox} (403)", _missing(probe.permission, mailbox)
        )
    except errors.MailboxNotFound:
        return fail(AREA, probe.name, f"{mailbox}: no such mailbox", "check the UPN")
    except (errors.BadRequest, errors.NotFound):
        # Authorised; the deliberately invalid body or unknown id was what Graph refused.
        return ok(AREA, probe.name, f"allowed on {mailbox} ({probe.permission})")
    except errors.GraphError as exc:
        return fail(AREA, probe.name, f"{mailbox}: {exc.code or exc.status}", exc.hint)
    if probe.method in WRITES:
        # The probe is built to be refused; a 2xx means Graph took it. Say so loudly, so an
        # administrator can remove what it made, rather than report a quiet "allowed".
        return warn(
            AREA,
            probe.name,
            f"allowed on {mailbox} ({probe.permission}), but Graph accepted the probe itself",
            f"look in {mailbox} for an item named like 'Mamoru doctor probe' (or a nameless "
            "folder or rule) and delete it by hand; please report this to Mamoru's maintainers",
        )
    return ok(AREA, probe.name, f"allowed on {mailbox} ({probe.permission})")


async def _mime(transport: GraphTransport, mailbox: str) -> Finding:
    name = "Mail: MIME download"
    base = f"/users/{_seg(mailbox)}/messages"
    try:
        page = await transport.get(base, mailbox=mailbox, params=ONE_ID)
        first = ((page or {}).get("value") or [{}])[0].get("id")
        if not first:
            return ok(AREA, name, f"{mailbox}: no message to read (nothing to check)")
        await transport.request("GET", f"{base}/{_seg(first)}/$value", mailbox=mailbox, raw=True)
    except errors.AccessDenied:
        return fail(AREA, name, f"refused on {mailbox} (403)", _missing("Mail.ReadWrite", mailbox))
    except errors.GraphError as exc:
        return fail(AREA, name, f"{mailbox}: {exc.code or exc.status}", exc.hint)
    return ok(AREA, name, f"allowed on {mailbox} (Mail.ReadWrite)")


async def _group_members(transport: GraphTransport, group_id: str) -> tuple[Finding, list[str]]:
    """The bot's membership call (transitiveMembers?$select=id): a finding and a few ids."""
    name = "Managers: group membership"
    try:
        body = await transport.get(
            f"/groups/{_seg(group_id)}/transitiveMembers", params={"$select": "id", "$top": 5}
        )
    except errors.NotFound:
        return fail(AREA, name, f"group {group_id} not found", "check MAMORU_MANAGER_GROUP_ID"), []
    except errors.AccessDenied as exc:
        return (
            fail(
                AREA,
                name,
                f"refused ({exc.status} {exc.code}): no manager could approve anything",
                "run deploy/exchange/Grant-MamoruGroupMemberRead.ps1 (deploy/README.md step 5.3)",
            ),
            [],
        )
    except errors.GraphError as exc:
        return fail(AREA, name, f"{exc.code or exc.status}", exc.hint), []
    ids = [str(m["id"]) for m in (body or {}).get("value", []) if m.get("id")]
    if not ids:
        return warn(AREA, name, f"group {group_id} has no members", "add the managers"), []
    return ok(AREA, name, f"members of {group_id} readable (GroupMember.Read.All)"), ids


async def _manager_mailbox_refused(
    transport: GraphTransport, manager_id: str, probed: list[str]
) -> Finding:
    """A manager's mailbox must be outside the scope (the guide never adds managers)."""
    name = "Managers' mail outside the scope"
    path = f"/users/{_seg(manager_id)}/messages"
    try:
        await transport.get(path, mailbox=manager_id, params=ONE_ID)
    except errors.AccessDenied:
        return ok(AREA, name, "a manager's mailbox is refused (403), as it must be")
    except errors.GraphError as exc:
        return warn(AREA, name, f"{exc.code or exc.status}", exc.hint)
    return warn(
        AREA,
        name,
        f"the mailbox of manager {manager_id} is readable: the scope includes managers, so "
        "Mamoru could read and send their mail (Mamoru needs neither)",
        "keep managers out of the opted-in group unless they opted in as staff themselves",
    )


async def _must_be_refused(transport: GraphTransport, mailbox: str, outside: str) -> Finding:
    name = "Outside the scope"
    if not outside:
        return warn(
            AREA,
            name,
            "skipped: no mailbox outside the scope given",
            "run again with --outside-mailbox <UPN of a mailbox that did not opt in>: the "
            "one call that must be refused is what proves the scope",
        )
    if outside.lower() == mailbox.lower():
        return warn(AREA, name, "skipped: same as the opted-in mailbox", "pick another mailbox")
    path = f"/users/{_seg(outside)}/mailFolders/inbox/messages"
    try:
        await transport.get(path, mailbox=outside, params=ONE_ID)
    except errors.AccessDenied as exc:
        return ok(AREA, name, f"{outside}: refused ({exc.status} {exc.code}), as it must be")
    except errors.MailboxNotFound:
        return warn(AREA, name, f"{outside}: no such mailbox", "check the UPN and run again")
    except errors.GraphError as exc:
        return warn(AREA, name, f"{outside}: {exc.code or exc.status}", exc.hint)
    return fail(
        AREA,
        name,
        f"{outside} did not opt in, yet its mail was readable: over-privileged (tenant-wide "
        "consent or a too-wide management scope)",
        _SCOPE_FIX,
    )


def _seg(value: str) -> str:
    return quote(value, safe="@")
