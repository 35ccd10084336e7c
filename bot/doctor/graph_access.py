"""Graph permission checks: the token's roles, calls that must succeed, one that must be refused.

Mamoru's mail permissions must come from Exchange Online RBAC for Applications,
limited to the opted-in mailboxes. Such grants never appear in the access
token; a mail role in the token's ``roles`` claim therefore means a tenant-wide
Entra admin consent, which reaches every mailbox (RBAC adds to it, it doesn't
limit it). The calls only read: doctor changes nothing in any mailbox.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
# (permission, the check's name, path under /users/{mailbox}, query): reads only.
ONE_ID: dict[str, str | int] = {"$top": 1, "$select": "id"}
CALLS: tuple[tuple[str, str, str, dict[str, str | int]], ...] = (
    ("Mail.ReadWrite", "Mail: list inbox", "mailFolders/inbox/messages", ONE_ID),
    ("MailboxSettings.ReadWrite", "Settings: list rules", "mailFolders/inbox/messageRules", {}),
    ("Calendars.ReadWrite", "Calendar: list events", "events", ONE_ID),
)
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
    if not mailbox:
        findings.append(
            fail(
                AREA,
                "Opted-in mailbox",
                "no mailbox to test the permissions on",
                "set MAMORU_DEPARTMENT_MAILBOX or pass --mailbox <UPN of an opted-in mailbox>",
            )
        )
    else:
        for permission, name, path, query in CALLS:
            findings.append(await _must_succeed(transport, mailbox, permission, name, path, query))
        findings.append(
            ok(
                AREA,
                "Mail: send",
                "Mail.Send not called (it would send a mail): step 5's "
                "Test-ServicePrincipalAuthorization checks it",
            )
        )
    if settings.manager_group_id:
        findings.append(await _group_members(transport, settings.manager_group_id))
    findings.append(await _must_be_refused(transport, mailbox, outside))
    return findings


async def _must_succeed(
    transport: GraphTransport,
    mailbox: str,
    permission: str,
    name: str,
    path: str,
    query: dict[str, str | int],
) -> Finding:
    try:
        await transport.get(f"/users/{_seg(mailbox)}/{path}", mailbox=mailbox, params=query)
    except errors.AccessDenied:
        return fail(
            AREA,
            name,
            f"refused on {mailbox} (403)",
            f"grant Application {permission} to the opted-in group with "
            "deploy/exchange/Grant-MamoruMailboxAccess.ps1 and check the mailbox is in the "
            "group; Exchange may take 30 minutes to 2 hours to apply new assignments",
        )
    except errors.MailboxNotFound:
        return fail(AREA, name, f"{mailbox}: no such mailbox", "check the UPN")
    except errors.GraphError as exc:
        return fail(AREA, name, f"{mailbox}: {exc.code or exc.status}", exc.hint)
    return ok(AREA, name, f"allowed on {mailbox} ({permission})")


async def _group_members(transport: GraphTransport, group_id: str) -> Finding:
    name = "Group: list members"
    try:
        await transport.get(f"/groups/{_seg(group_id)}/members", params={"$top": 1})
    except errors.NotFound:
        return fail(AREA, name, f"group {group_id} not found", "check MAMORU_MANAGER_GROUP_ID")
    except errors.GraphError as exc:
        return fail(AREA, name, f"{exc.code or exc.status}", exc.hint)
    return ok(AREA, name, f"members of {group_id} readable")


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
