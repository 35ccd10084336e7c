"""Database checks: connected and at head, an old migration flagged, TLS on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.doctor import Finding, Status
from bot.doctor.database import check_database, script_heads
from bot.store import migrate
from bot.store.engine import create_engines


def by_name(findings: list[Finding]) -> dict[str, Finding]:
    """Findings keyed by check name."""
    return {f.name: f for f in findings}


def settings_for(url: str) -> Settings:
    """Settings with only the database set."""
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


async def migrate_to(url: str, revision: str) -> None:
    """Apply the migrations up to ``revision`` only."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engines = create_engines(url)
    async with engines.write.begin() as connection:
        await connection.run_sync(run)
    await engines.dispose()


async def test_migrated_sqlite_is_ok(database_url: str) -> None:
    found = by_name(await check_database(settings_for(database_url)))
    assert {f.status for f in found.values()} == {Status.OK}
    assert found["Migrations"].what == f"at head ({', '.join(sorted(script_heads()))})"


async def test_database_at_an_old_migration_is_flagged(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await migrate_to(url, "0001")
    found = by_name(await check_database(settings_for(url)))
    assert found["Connection"].status is Status.OK
    assert found["Migrations"].status is Status.FAIL
    assert "at 0001, behind head" in found["Migrations"].what
    assert "mamoru db upgrade" in found["Migrations"].fix


async def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    (finding,) = await check_database(settings_for(f"sqlite+aiosqlite:///{path}"))
    assert finding.status is Status.WARN and not path.exists()


async def test_unreachable_postgres_fails_without_the_password() -> None:
    url = "postgresql+asyncpg://mamoru:Sup3rS3cret@127.0.0.1:1/mamoru?ssl=disable"
    (finding,) = await check_database(settings_for(url))
    assert finding.status is Status.FAIL and "cannot connect" in finding.what
    assert "Sup3rS3cret" not in finding.what


async def test_unresolved_key_vault_reference_is_not_tried() -> None:
    settings = settings_for("@Microsoft.KeyVault(VaultName=kv;SecretName=database-url)")
    (finding,) = await check_database(settings)
    assert finding.status is Status.FAIL and "Key Vault" in finding.what


@pytest.mark.postgres
async def test_postgres_without_tls_is_flagged(postgres_url: str) -> None:
    found = by_name(await check_database(settings_for(postgres_url + "?ssl=disable")))
    assert found["Connection"].status is Status.OK
    assert found["Migrations"].status is Status.OK
    assert found["TLS"].status is Status.FAIL and "NOT encrypted" in found["TLS"].what
