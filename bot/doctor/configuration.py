"""Configuration checks: bot identity, host name, Graph mode, database URL, managers, secrets.

"In Azure" means App Service set ``WEBSITE_HOSTNAME``; there the deployment's
settings (deploy/infra/modules/app.bicep) are the reference. Locally the same
checks are looser and say so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import BotAuthType, GraphMode, Settings
from bot.departments import DepartmentsError, load_organisation
from bot.doctor import Finding, fail, ok, warn

AREA = "Configuration"
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Settings the deployment never sets in plain text: a value here is a secret outside Key Vault.
PLAIN_SECRETS = ("MAMORU_CLIENT_SECRET", "MAMORU_GRAPH_CLIENT_SECRET", "MAMORU_DATABASE_URL")
# Variables whose names look secret but are not (or are set by the platform itself).
_NOT_SECRETS = frozenset({"APPLICATIONINSIGHTS_CONNECTION_STRING"})
_PLATFORM_PREFIXES = ("WEBSITE_", "IDENTITY_", "MSI_", "APPSETTING_WEBSITE_")  # App Service's own
_SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "PRIVATE_KEY", "API_KEY", "ACCOUNT_KEY")
_KV_FIX = (
    "App Service could not resolve the Key Vault reference: check that the web app's "
    "managed identity has the Key Vault Secrets User role on the vault, that the secret "
    "exists, and the app's 'Environment variables' page (it shows the reference's error)"
)


def in_azure(settings: Settings) -> bool:
    """Whether Mamoru runs on App Service (``WEBSITE_HOSTNAME`` is set)."""
    return bool(settings.website_hostname)


def is_guid(value: str) -> bool:
    """Whether a value is a GUID (Entra ids are)."""
    return bool(_GUID.match(value.strip()))


def check_identity(settings: Settings, env: Mapping[str, str]) -> Finding:
    """The bot identity: present, a GUID, managed identity and no anonymous access in Azure."""
    name = "Bot identity"
    azure = in_azure(settings)
    if not settings.client_id:
        if settings.allow_anonymous and not azure:
            return ok(AREA, name, "none: anonymous (local only, with the Agents Playground)")
        if settings.allow_anonymous:
            return fail(
                AREA,
                name,
                "anonymous access in Azure: anyone can post to /api/messages",
                "set MAMORU_ALLOW_ANONYMOUS=false and MAMORU_CLIENT_ID to the managed "
                "identity's client id (azd output MAMORU_BOT_APP_ID)",
            )
        return fail(AREA, name, "no bot identity configured", settings.serving_problem() or "")
    if not is_guid(settings.client_id):
        return fail(
            AREA,
            name,
            "MAMORU_CLIENT_ID is not a GUID",
            "set it to the app (client) id of the bot's identity, e.g. azd output "
            "MAMORU_BOT_APP_ID",
        )
    if not is_guid(settings.tenant_id):
        return fail(
            AREA,
            name,
            "MAMORU_TENANT_ID is missing or not a GUID",
            "set it to the directory (tenant) id of the Microsoft 365 tenant",
        )
    if azure and settings.allow_anonymous:
        return fail(
            AREA,
            name,
            "MAMORU_ALLOW_ANONYMOUS=true in Azure",
            "set MAMORU_ALLOW_ANONYMOUS=false (deploy/infra/modules/app.bicep does)",
        )
    if azure and settings.auth_type is not BotAuthType.USER_MANAGED_IDENTITY:
        return fail(
            AREA,
            name,
            f"auth type {settings.auth_type.value} in Azure",
            "set MAMORU_AUTH_TYPE=UserManagedIdentity: the bot signs in as its managed "
            "identity and has no secret to leak or rotate",
        )
    missing = _missing_credential(settings)
    if missing:
        return fail(AREA, name, missing, "set it, or use a managed identity in Azure")
    anonymous = " (anonymous also allowed: local only)" if settings.allow_anonymous else ""
    return ok(
        AREA,
        name,
        f"{settings.auth_type.value} {settings.client_id}: tokens required{anonymous}",
    )


def _missing_credential(settings: Settings) -> str:
    if settings.auth_type is BotAuthType.CLIENT_SECRET and not (
        settings.client_secret.get_secret_value()
    ):
        return "auth type ClientSecret but MAMORU_CLIENT_SECRET is empty"
    if settings.auth_type is BotAuthType.CERTIFICATE and not (
        settings.certificate_path and settings.certificate_path.is_file()
    ):
        return "auth type Certificate but MAMORU_CERTIFICATE_PATH is not a file"
    return ""


def check_hostname(settings: Settings, env: Mapping[str, str]) -> Finding:
    """The public host name the Teams package names vs the one App Service reports."""
    name = "Public host name"
    public, site = settings.public_hostname.strip().lower(), settings.website_hostname.lower()
    if not in_azure(settings):
        if public:
            return ok(AREA, name, f"{public} (not checked: not running in Azure)")
        return ok(AREA, name, "not set (local run; needed for the Teams package)")
    if not public:
        return fail(
            AREA,
            name,
            f"MAMORU_PUBLIC_HOSTNAME is empty (App Service: {site})",
            f"set MAMORU_PUBLIC_HOSTNAME={site} (the Teams package's validDomains use it)",
        )
    if public.startswith(("http://", "https://")) or "/" in public:
        return fail(
            AREA, name, f"{public} is a URL", "set the host name only, without https:// or a path"
        )
    if public != site:
        return warn(
            AREA,
            name,
            f"{public} differs from App Service's {site}",
            "fine for a custom domain bound to this web app; otherwise set "
            f"MAMORU_PUBLIC_HOSTNAME={site} and rebuild the Teams package",
        )
    return ok(AREA, name, public)


def check_graph_mode(settings: Settings, env: Mapping[str, str]) -> Finding:
    """Graph: the real one in Azure, with the managed identity."""
    name = "Graph mode"
    azure = in_azure(settings)
    if settings.graph_mode is GraphMode.SANDBOX:
        if azure:
            return fail(
                AREA,
                name,
                "sandbox (the local Graph service) in Azure",
                "set MAMORU_GRAPH_MODE=microsoft (deploy parameter graphMode)",
            )
        where = "in-process" if settings.graph_sandbox_embedded else settings.graph_sandbox_url
        return ok(AREA, name, f"sandbox: the local Graph service ({where}; local only)")
    if not settings.graph_base_url.startswith("https://"):
        return fail(AREA, name, "MAMORU_GRAPH_BASE_URL is not https", "use the https:// URL")
    if azure and settings.graph_auth_type is not BotAuthType.USER_MANAGED_IDENTITY:
        return warn(
            AREA,
            name,
            f"microsoft, signing in with {settings.graph_auth_type.value}",
            "set MAMORU_GRAPH_AUTH_TYPE=UserManagedIdentity: no secret to store or rotate",
        )
    return ok(AREA, name, f"microsoft ({settings.graph_auth_type.value})")


def check_database_url(settings: Settings, env: Mapping[str, str]) -> Finding:
    """DATABASE_URL: resolved from Key Vault, PostgreSQL with TLS in Azure."""
    name = "DATABASE_URL"
    raw = settings.database_url.strip()
    if raw.startswith(KEY_VAULT_REFERENCE):
        return fail(AREA, name, "still a Key Vault reference (not resolved)", _KV_FIX)
    azure = in_azure(settings)
    if not raw:
        if azure:
            return fail(
                AREA,
                name,
                "not set: SQLite on the web app's disk",
                "set DATABASE_URL as a Key Vault reference (deploy/infra does this)",
            )
        return ok(AREA, name, "not set: SQLite in MAMORU_DATA_DIR (local)")
    try:
        url = make_url(raw)
    except ArgumentError:
        return fail(AREA, name, "not a database URL", "postgresql+asyncpg://user:…@host/db")
    backend = url.get_backend_name()
    if backend != "postgresql":
        if azure:
            return fail(
                AREA, name, f"{backend} in Azure", "use the PostgreSQL flexible server's URL"
            )
        return ok(AREA, name, f"{backend} (local)")
    tls = _tls_mode(url.query)
    where = f"PostgreSQL at {url.host}"
    if tls in {"require", "verify-ca", "verify-full"}:
        return ok(AREA, name, f"{where}, TLS ({tls})")
    problem = f"{where} without ssl=require"
    fix = "append ?ssl=require to DATABASE_URL (asyncpg then refuses plain connections)"
    return fail(AREA, name, problem, fix) if azure else warn(AREA, name, problem, fix)


def _tls_mode(query: Mapping[str, str | tuple[str, ...]]) -> str:
    for key in ("ssl", "sslmode"):
        value = query.get(key)
        if isinstance(value, tuple):
            value = value[-1] if value else None
        if value:
            return "require" if value.lower() in {"true", "1"} else value.lower()
    return ""


def check_managers(settings: Settings, env: Mapping[str, str]) -> Finding:
    """Somebody must be able to approve: each department's managers (ids and/or a group)."""
    name = "Managers"
    try:
        organisation = load_organisation(settings)
    except DepartmentsError as exc:
        return fail(AREA, name, str(exc), "fix the departments configuration (deploy/README.md)")
    people = [organisation.legal, *(d.managers for d in organisation.departments)]
    people += [d.staff for d in organisation.departments]
    bad = [i for m in people for i in m.ids if not is_guid(i)]
    bad += [m.group_id for m in people if m.group_id and not is_guid(m.group_id)]
    if bad:
        return fail(
            AREA,
            name,
            f"{len(bad)} value(s) are not Entra object ids (GUIDs)",
            "managers, staff and the legal role take object ids, not names or addresses "
            "(Entra admin center → Users/Groups → Object ID)",
        )
    without = [d.id for d in organisation.departments if d.managers.is_empty()]
    if not without:
        count = len(organisation.departments)
        legal = ", legal role set" if not organisation.legal.is_empty() else ""
        return ok(AREA, name, f"{count} department(s), each with managers{legal}")
    problem, fix = (
        "no managers: escalated cases cannot be approved",
        "set MAMORU_DEPARTMENTS_FILE, or MAMORU_MANAGER_IDS / MAMORU_MANAGER_GROUP_ID "
        "(deploy/README.md step 7)",
    )
    return fail(AREA, name, problem, fix) if in_azure(settings) else warn(AREA, name, problem, fix)


def check_department_mailbox(settings: Settings, env: Mapping[str, str]) -> Finding:
    """The mailbox the organisation's approved mails are sent from."""
    name = "Department mailbox"
    value = settings.department_mailbox.strip()
    if value and not _ADDRESS.match(value):
        return fail(AREA, name, "not a mail address", "set the mailbox's UPN, e.g. soudan@…")
    if value:
        return ok(AREA, name, value)
    problem, fix = (
        "not set: approved warning and notice mails cannot be sent",
        "set MAMORU_DEPARTMENT_MAILBOX to a mailbox in the opted-in group",
    )
    return fail(AREA, name, problem, fix) if in_azure(settings) else warn(AREA, name, problem, fix)


def check_app_insights(settings: Settings, env: Mapping[str, str]) -> Finding:
    """Application Insights: where traces and logs go in Azure."""
    name = "Application Insights"
    value = settings.applicationinsights_connection_string.get_secret_value().strip()
    if value.startswith(KEY_VAULT_REFERENCE):
        return fail(AREA, name, "still a Key Vault reference (not resolved)", _KV_FIX)
    if value and "InstrumentationKey=" not in value:
        return fail(
            AREA,
            name,
            "APPLICATIONINSIGHTS_CONNECTION_STRING has no InstrumentationKey",
            "copy the whole connection string from the Application Insights resource",
        )
    if value:
        return ok(AREA, name, "connection string set: traces and logs are exported")
    if in_azure(settings):
        return warn(
            AREA,
            name,
            "APPLICATIONINSIGHTS_CONNECTION_STRING is not set: no traces or logs in Azure",
            "re-run `azd provision` (deploy/infra sets it from the monitoring module)",
        )
    return ok(AREA, name, "not set: telemetry off (local)")


def check_plain_secrets(settings: Settings, env: Mapping[str, str]) -> Finding:
    """Secrets only from Key Vault (a heuristic on the environment; values never shown)."""
    name = "Secrets outside Key Vault"
    if not in_azure(settings):
        return ok(AREA, name, "not checked: local run (secrets may come from .env)")
    plain = [key for key in PLAIN_SECRETS if env.get(key, "").strip()]
    # DATABASE_URL itself is the deployment's Key Vault reference, resolved by App Service.
    suspicious = sorted(
        key
        for key, value in env.items()
        if value.strip()
        and key not in plain
        and key not in _NOT_SECRETS
        and not key.startswith(_PLATFORM_PREFIXES)
        and key != "DATABASE_URL"
        and not value.startswith(KEY_VAULT_REFERENCE)
        and any(word in key.upper() for word in _SECRET_WORDS)
    )
    if plain:
        return fail(
            AREA,
            name,
            f"set in plain app settings: {', '.join(plain)}",
            "remove them: the bot signs in with its managed identity, and DATABASE_URL comes "
            "from Key Vault (a MAMORU_DATABASE_URL would override it). Store any secret in "
            "Key Vault and reference it as @Microsoft.KeyVault(VaultName=…;SecretName=…)",
        )
    if suspicious:
        return warn(
            AREA,
            name,
            f"variables that look like secrets: {', '.join(suspicious)}",
            "if they are secrets, move them to Key Vault and use Key Vault references "
            "(doctor cannot tell a resolved reference from a plain value: it only sees names)",
        )
    return ok(AREA, name, "no secret in plain app settings (DATABASE_URL: from Key Vault)")


CHECKS: tuple[Callable[[Settings, Mapping[str, str]], Finding], ...] = (
    check_identity,
    check_hostname,
    check_graph_mode,
    check_database_url,
    check_managers,
    check_department_mailbox,
    check_app_insights,
    check_plain_secrets,
)


def check_configuration(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    """Every configuration check, in report order."""
    return [check(settings, env) for check in CHECKS]
