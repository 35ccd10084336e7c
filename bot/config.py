"""Settings: every knob of Mamoru in one place, read from the environment and ``.env``.

Variables are prefixed ``MAMORU_`` (e.g. ``MAMORU_PORT=3978``). ``DATABASE_URL`` is
also accepted without the prefix, as hosting platforms set it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BotAuthType(StrEnum):
    """How the bot proves its identity to the Bot Connector (Agents SDK AUTHTYPE)."""

    CLIENT_SECRET = "ClientSecret"
    CERTIFICATE = "Certificate"
    USER_MANAGED_IDENTITY = "UserManagedIdentity"


class GraphMode(StrEnum):
    """Which Microsoft Graph Mamoru talks to."""

    SANDBOX = "sandbox"  # the local Graph service, in-process (no Azure needed)
    MICROSOFT = "microsoft"  # the real Microsoft Graph


class Settings(BaseSettings):
    """Mamoru's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MAMORU_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- HTTP server
    host: str = "127.0.0.1"
    port: int = Field(default=3978, ge=1, le=65535)

    # --- Bot identity (Entra app registration or managed identity). Empty = none configured.
    client_id: str = ""
    tenant_id: str = ""
    client_secret: SecretStr = SecretStr("")
    certificate_path: Path | None = None
    auth_type: BotAuthType = BotAuthType.CLIENT_SECRET
    # Accept requests without a token. Only for local runs (Agents Playground); never in Azure.
    allow_anonymous: bool = False
    # Extra Bot Connector origins accepted as an activity's serviceUrl besides Microsoft's
    # own hosts (comma-separated, e.g. a local stand-in connector in tests). Leave empty in
    # Azure: the bot sends its token only to the host the incoming token named.
    connector_origins: str = ""
    # How an evidence bundle reaches its requester (docs/security.md, "Evidence bundles:
    # delivery"). "auto": with a bot identity, Teams' file consent card into the
    # requester's own OneDrive; without one (local runs, Agents Playground), a single-use
    # link. "link" with a bot identity is refused at start.
    export_delivery: Literal["auto", "teams-file", "link"] = "auto"
    # Extra origins a file consent upload may go to besides https://*.sharepoint.com
    # (comma-separated; a local stand-in in tests). Leave empty in Azure.
    upload_origins: str = ""

    # --- Storage
    data_dir: Path = Path(".mamoru")
    database_url: str = Field(
        default="", validation_alias=AliasChoices("MAMORU_DATABASE_URL", "DATABASE_URL")
    )

    # The database role that owns the tables and runs migrations (PostgreSQL). Set, the app
    # itself connects with DATABASE_URL as a role that owns nothing and may not UPDATE or
    # DELETE evidence; `mamoru db upgrade` (and startup) migrate with this URL and grant
    # that role what it needs (bot/store/grants.py). Empty: DATABASE_URL does both.
    migration_database_url: str = ""

    # --- Evidence outside the database (bot/evidence/azure_blobs.py, anchors.py)
    # The immutable (WORM) Blob container for evidence files, exports and chain-head
    # anchors, e.g. https://<account>.blob.core.windows.net/evidence (deploy/infra sets it).
    # Empty: files and anchors stay under data_dir (local runs).
    evidence_container_url: str = ""
    # An account connection string instead of the managed identity: for Azurite (the local
    # Blob Storage emulator) and development only. The container is the URL's last segment
    # (default "evidence") and is created if missing.
    evidence_connection_string: SecretStr = SecretStr("")
    evidence_anchor_minutes: float = Field(default=5.0, gt=0)  # how often heads are anchored

    # --- Organisation (docs/security.md, deploy/README.md "Departments")
    # Departments, their managers and staff: a YAML or JSON file (MAMORU_DEPARTMENTS_FILE),
    # or the same document inline (MAMORU_DEPARTMENTS). Neither: one department,
    # default_department, managed by manager_ids / manager_group_id, holding everyone.
    departments_file: Path | None = None
    departments: str = ""
    default_department: str = "default"  # the department of staff no department lists
    # Without departments: its managers, Entra object ids (comma-separated) and/or a group.
    manager_ids: str = ""
    manager_group_id: str = ""
    # The organisation-wide role (the legal section): sees and exports every case.
    legal_ids: str = ""
    legal_group_id: str = ""
    escalation_reminder_hours: float = Field(default=24.0, gt=0)  # undecided: re-notify after
    reminder_check_minutes: float = Field(default=5.0, gt=0)  # how often reminders are looked for
    # Jobs waiting out transient faults (docs/jobs.md): total deadline per job, counted
    # from its approval or last resumption; 403 while Exchange applies a new grant.
    job_deadline_hours: float = Field(default=24.0, gt=0)
    permission_propagation_hours: float = Field(default=2.0, ge=0)
    # How long a job's claim holds without a heartbeat: after an instance dies (kill -9,
    # a lost host) another takes its jobs over after at most this long.
    job_lease_seconds: float = Field(default=60.0, ge=5)
    department_mailbox: str = ""  # UPN the organisation's mails (cut-off notice...) are sent from
    # Whom staff ask when their managers have not set Mamoru up yet (shown to them as is),
    # e.g. "情報政策課 Teams 担当（内線 1234）". Empty: "your IT or Teams administrator".
    admin_contact: str = Field(default="", max_length=200)
    case_list_page_size: int = Field(default=8, ge=1, le=20)  # cases per page of 「案件一覧」
    # How the organisation's mails are signed and numbered (docs/guide-managers.ja.md).
    department_name: str = (
        ""  # as written in mails, e.g. 「〇〇区 市民相談課」; empty blocks sending
    )
    mail_signatory: str = ""  # e.g. 「市民相談課長 高橋 一郎」; empty: the approving manager's name
    # The subject's reference: {department} {yyyy} {mm} {dd} {n} (n: the day's count)
    mail_reference_format: str = "{department}-{yyyy}{mm}{dd}-{n}"
    mail_reference_department: str = ""  # {department} in references; empty: department_name

    # --- Microsoft Graph
    graph_mode: GraphMode = GraphMode.SANDBOX
    # Sandbox mode: `mamoru serve` runs the local Graph service itself, seeded with the demo
    # office, at graph_sandbox_url. Set false when you run `mamoru sandbox` separately.
    graph_sandbox_embedded: bool = True
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    graph_token_url: str = ""  # empty: derived from tenant_id (login.microsoftonline.com)
    # The Graph app registration; empty id/tenant/secret: the bot identity's (one app for both).
    graph_auth_type: BotAuthType = BotAuthType.CLIENT_SECRET
    graph_client_id: str = ""
    graph_tenant_id: str = ""
    graph_client_secret: SecretStr = SecretStr("")
    graph_certificate_path: Path | None = None
    # Where `mamoru sandbox` listens; used when graph_mode is sandbox.
    graph_sandbox_url: str = "http://127.0.0.1:5280"
    graph_mailbox_concurrency: int = Field(default=4, ge=1, le=4)  # Graph allows 4 per mailbox
    graph_retry_seconds: float = Field(default=600.0, gt=0)  # give up (re-run resumes) after
    graph_evidence_folder: str = "カスハラ証拠保全"  # under Inbox; one child folder per case

    # --- Guidance
    playbooks_dir: Path | None = None  # None: the playbooks shipped with Mamoru
    # The triage model's probability from which its top playbook opens (bot/domain/triage.py).
    match_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    max_message_chars: int = Field(default=4000, ge=100)  # longer texts are read only this far

    # --- SNS cases (issue 6)
    sns_max_image_mb: int = Field(default=10, ge=1, le=50)  # one pasted screenshot, at most
    # Extra origins attachments may be fetched from (comma-separated, e.g. a proxy); the
    # Bot Connector's own origin (the activity's serviceUrl) is always allowed.
    sns_attachment_origins: str = ""
    sns_legal_warn_days: int = Field(default=60, ge=1)  # warn: disclosure request soon
    sns_legal_window_days: int = Field(default=90, ge=1)  # typical access-log retention
    sns_monitor_daily_days: int = Field(default=7, ge=0)  # spread prompts: daily this long
    sns_monitor_weekly_weeks: int = Field(default=8, ge=0)  # then weekly this many times

    # --- Flood watch (issue 15; docs/flood.md): metadata of opted-in mailboxes only
    # Comma-separated: "upn=<owner's Entra object id>" (a person's mailbox: the card goes to
    # them) or "upn=dept:<department>" (a department mailbox: its managers' channel).
    flood_mailboxes: str = ""
    flood_per_day: int = Field(default=20, ge=1)  # mails from one sender in 24 hours
    flood_per_hour: int = Field(default=10, ge=1)  # ... in 60 minutes
    flood_same_subject: int = Field(default=5, ge=1)  # ... with the same subject in 24 hours
    flood_poll_minutes: float = Field(default=5.0, gt=0)  # a delta round at least this often
    # Where Graph posts change notifications; empty: https://<public_hostname> if set, else
    # no subscriptions (delta rounds only).
    flood_notification_base_url: str = ""
    # More free-mail domains (comma-separated): never used to link two cases, never proposed
    # for a domain-wide block (blocking them would stop every resident writing from there).
    free_mail_domains: str = ""

    # --- Teams app package (`mamoru teams package`; deploy/README.md)
    public_hostname: str = ""  # the web app's host name, e.g. app-mamoru-xyz.azurewebsites.net
    teams_app_id: str = ""  # the Teams app's id (GUID); empty: derived from client_id, stable
    teams_developer_name: str = "Mamoru"  # shown in Teams as the app's publisher
    teams_website_url: str = ""  # empty: https://<public_hostname>/
    teams_privacy_url: str = ""  # the organisation's privacy page; empty: <website>/privacy
    teams_terms_url: str = ""  # its terms of use page; empty: <website>/terms

    # --- Azure hosting: set by App Service and deploy/infra (read by telemetry, `mamoru doctor`)
    website_hostname: str = Field(  # App Service sets it: Mamoru runs in Azure
        default="", validation_alias=AliasChoices("WEBSITE_HOSTNAME")
    )
    # Set: `mamoru serve` exports traces and logs to Application Insights (bot/logs.py).
    applicationinsights_connection_string: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("APPLICATIONINSIGHTS_CONNECTION_STRING"),
    )

    def serving_problem(self) -> str | None:
        """Why the bot must not serve /api/messages with these settings, or None if it may."""
        if self.allow_anonymous and (self.client_id or self.website_hostname):
            # Anonymous requests next to a real identity, or in App Service: anyone could
            # post an activity as any manager. Refuse outright instead of warning.
            why = "MAMORU_CLIENT_ID is set" if self.client_id else "WEBSITE_HOSTNAME is set"
            return (
                f"MAMORU_ALLOW_ANONYMOUS=true is only for a local run with the Agents "
                f"Playground, but {why} (a bot identity or Azure App Service): set "
                "MAMORU_ALLOW_ANONYMOUS=false"
            )
        if not self.client_id and not self.allow_anonymous:
            return (
                "no bot identity configured: set MAMORU_CLIENT_ID, MAMORU_TENANT_ID and "
                "MAMORU_CLIENT_SECRET for Azure, or MAMORU_ALLOW_ANONYMOUS=true for a local "
                "run with the Agents Playground"
            )
        if self.client_id and self.export_delivery == "link":
            # A link is a bearer secret: whoever holds it downloads. In Teams the bundle
            # goes to the requester's own OneDrive, which only they can open.
            return (
                "MAMORU_EXPORT_DELIVERY=link is only for local runs without a bot identity: "
                "with MAMORU_CLIENT_ID set, use auto (Teams file consent)"
            )
        if self.client_id and not self.tenant_id:
            # Without a tenant the SDK would treat the bot as multi-tenant and accept
            # tokens issued by any Entra tenant.
            return (
                "MAMORU_TENANT_ID is not set: set it to the directory (tenant) id of the "
                "Microsoft 365 tenant the bot serves"
            )
        return None

    @property
    def effective_database_url(self) -> str:
        """The database to use: ``DATABASE_URL`` if set, else a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mamoru.db').resolve()}"

    @property
    def effective_migration_url(self) -> str:
        """The database URL migrations run with: the owner's, else ``DATABASE_URL``'s."""
        return self.migration_database_url or self.effective_database_url

    @property
    def evidence_container_name(self) -> str:
        """The container's name (last segment of its URL; "evidence" by default)."""
        return self.evidence_container_url.rstrip("/").rsplit("/", 1)[-1] or "evidence"

    @property
    def public_base_url(self) -> str:
        """Where people reach this bot: https://<public_hostname>, else the local address."""
        if self.public_hostname:
            return f"https://{self.public_hostname}"
        return f"http://{self.host}:{self.port}"

    @property
    def manager_id_set(self) -> frozenset[str]:
        """The configured manager object ids."""
        return _id_set(self.manager_ids)

    @property
    def legal_id_set(self) -> frozenset[str]:
        """The configured object ids of the organisation-wide role."""
        return _id_set(self.legal_ids)

    @property
    def connector_origin_set(self) -> frozenset[str]:
        """The extra connector origins (``scheme://host[:port]``), lower-case."""
        return _origin_set(self.connector_origins)

    @property
    def upload_origin_set(self) -> frozenset[str]:
        """The extra file-upload origins (``scheme://host[:port]``), lower-case."""
        return _origin_set(self.upload_origins)

    @property
    def delivers_by_file_consent(self) -> bool:
        """Whether bundles go through Teams' file consent card (else a single-use link)."""
        if self.export_delivery == "auto":
            return self.has_bot_identity
        return self.export_delivery == "teams-file"

    @property
    def has_bot_identity(self) -> bool:
        """Whether a bot identity is configured (tokens are then required on /api/messages)."""
        return bool(self.client_id)


def _id_set(ids: str) -> frozenset[str]:
    return frozenset(i.strip() for i in ids.split(",") if i.strip())


def _origin_set(origins: str) -> frozenset[str]:
    return frozenset(o.strip().rstrip("/").lower() for o in origins.split(",") if o.strip())
