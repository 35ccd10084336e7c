"""Configuration checks: clear failures for missing or unsafe settings, in Azure and locally."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.doctor import Finding, Status
from bot.doctor.configuration import check_configuration

CLIENT = "6c0d8f3e-1b2a-4c5d-8e9f-0a1b2c3d4e5f"
TENANT = "0c17e5a1-0000-4000-8000-c17ec17ec17e"
GROUP = "d3e0a001-0000-4000-8000-0000000000a0"
SITE = "app-mamoru-xyz.azurewebsites.net"
CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x/"


def azure(**overrides: Any) -> Settings:
    """The settings deploy/infra/modules/app.bicep gives the web app, with overrides."""
    values: dict[str, Any] = {
        "website_hostname": SITE,
        "client_id": CLIENT,
        "tenant_id": TENANT,
        "auth_type": "UserManagedIdentity",
        "allow_anonymous": False,
        "graph_mode": "microsoft",
        "graph_auth_type": "UserManagedIdentity",
        "manager_group_id": GROUP,
        "department_mailbox": "soudan@city.example.lg.jp",
        "public_hostname": SITE,
        "database_url": "postgresql+asyncpg://mamoruadmin:pw@psql-x.private:5432/mamoru?ssl=require",
        "applicationinsights_connection_string": CONNECTION,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def checks(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Finding]:
    """The configuration findings by name."""
    return {f.name: f for f in check_configuration(settings, env or {})}


def statuses(found: dict[str, Finding]) -> dict[str, Status]:
    """Just the statuses."""
    return {name: f.status for name, f in found.items()}


def test_the_deployed_settings_pass() -> None:
    env = {"DATABASE_URL": "postgresql+asyncpg://…", "AZURE_CLIENT_ID": CLIENT}
    found = checks(azure(), env)
    assert set(statuses(found).values()) == {Status.OK}, found


def test_empty_settings_in_azure_fail_clearly() -> None:
    found = checks(
        Settings(_env_file=None, website_hostname=SITE)  # type: ignore[call-arg]
    )
    bad = {name for name, f in found.items() if f.status is Status.FAIL}
    assert bad == {
        "Bot identity",
        "Public host name",
        "Graph mode",
        "DATABASE_URL",
        "Managers",
        "Department mailbox",
    }
    assert "MAMORU_CLIENT_ID" in found["Bot identity"].fix
    assert f"MAMORU_PUBLIC_HOSTNAME={SITE}" in found["Public host name"].fix
    assert "MAMORU_GRAPH_MODE=microsoft" in found["Graph mode"].fix
    assert "SQLite" in found["DATABASE_URL"].what
    assert "MAMORU_MANAGER_IDS" in found["Managers"].fix
    assert found["Application Insights"].status is Status.WARN


def test_anonymous_is_fine_locally_but_not_in_azure() -> None:
    local = checks(Settings(_env_file=None, allow_anonymous=True))  # type: ignore[call-arg]
    assert local["Bot identity"].status is Status.OK
    assert "local only" in local["Bot identity"].what
    found = checks(azure(allow_anonymous=True))
    assert found["Bot identity"].status is Status.FAIL
    assert "MAMORU_ALLOW_ANONYMOUS=false" in found["Bot identity"].fix


def test_identity_must_be_a_guid_and_a_managed_identity_in_azure() -> None:
    assert checks(azure(client_id="mamoru-bot"))["Bot identity"].status is Status.FAIL
    found = checks(azure(auth_type="ClientSecret", client_secret="x"))["Bot identity"]
    assert found.status is Status.FAIL and "UserManagedIdentity" in found.fix
    assert checks(azure(tenant_id=""))["Bot identity"].status is Status.FAIL


def test_unresolved_key_vault_reference() -> None:
    ref = "@Microsoft.KeyVault(VaultName=kv-mamoru;SecretName=database-url)"
    found = checks(azure(database_url=ref))["DATABASE_URL"]
    assert found.status is Status.FAIL
    assert "Key Vault Secrets User" in found.fix


def test_postgres_without_tls_fails_in_azure_and_warns_locally() -> None:
    url = "postgresql+asyncpg://u:p@db:5432/mamoru"
    assert checks(azure(database_url=url))["DATABASE_URL"].status is Status.FAIL
    assert "ssl=require" in checks(azure(database_url=url))["DATABASE_URL"].fix
    local = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    assert checks(local)["DATABASE_URL"].status is Status.WARN
    sslmode = azure(database_url=url + "?sslmode=verify-full")
    assert checks(sslmode)["DATABASE_URL"].status is Status.OK


def test_secrets_in_plain_app_settings() -> None:
    env = {"MAMORU_GRAPH_CLIENT_SECRET": "s3cret", "SMTP_PASSWORD": "hunter2"}
    found = checks(azure(), env)["Secrets outside Key Vault"]
    assert found.status is Status.FAIL
    assert "MAMORU_GRAPH_CLIENT_SECRET" in found.what and "s3cret" not in found.what
    assert "Key Vault" in found.fix
    warned = checks(azure(), {"SMTP_PASSWORD": "hunter2"})["Secrets outside Key Vault"]
    assert warned.status is Status.WARN and "hunter2" not in warned.what
    referenced = {
        "SMTP_PASSWORD": "@Microsoft.KeyVault(SecretUri=https://kv/secrets/x)",
        "IDENTITY_HEADER": "platform-managed",
        "WEBSITE_AUTH_SECRET": "platform-managed",
    }
    assert checks(azure(), referenced)["Secrets outside Key Vault"].status is Status.OK


def test_hostname_mismatch_and_managers_that_are_not_ids() -> None:
    found = checks(azure(public_hostname="mamoru.city.example.lg.jp"))["Public host name"]
    assert found.status is Status.WARN and "custom domain" in found.fix
    url = checks(azure(public_hostname=f"https://{SITE}/"))["Public host name"]
    assert url.status is Status.FAIL
    bad = checks(azure(manager_group_id="", manager_ids="kacho@city.example.lg.jp"))
    assert bad["Managers"].status is Status.FAIL and "object ids" in bad["Managers"].fix
