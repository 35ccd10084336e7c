"""Database checks: it answers, its schema is at the migrations' head, PostgreSQL uses TLS.

Only reads: doctor never creates a database or applies a migration (``mamoru db
upgrade`` and ``mamoru serve`` do).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings
from bot.doctor import Finding, fail, ok, warn
from bot.doctor.configuration import KEY_VAULT_REFERENCE
from bot.store import migrate
from bot.store.engine import create_engines, normalize_url

AREA = "Database"
CONNECT_TIMEOUT_SECONDS = 15.0
_UPGRADE = "run `mamoru db upgrade` (or restart the web app: `mamoru serve` migrates at startup)"


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    return ScriptDirectory.from_config(config)


def script_heads() -> set[str]:
    """The head revision(s) of the migrations shipped with this code."""
    return set(_scripts().get_heads())


def _schema_state(connection: Connection) -> tuple[set[str], bool]:
    """The database's current revisions, and whether it is PostgreSQL over TLS."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    tls = False
    if connection.dialect.name == "postgresql":
        row = connection.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).first()
        tls = bool(row and row[0])
    return current, tls


def check_migrations(current: set[str], heads: set[str]) -> Finding:
    """Migrations applied up to this code's head."""
    name = "Migrations"
    if not current:
        return fail(AREA, name, "no schema (the database was never migrated)", _UPGRADE)
    if current == heads:
        return ok(AREA, name, f"at head ({', '.join(sorted(heads))})")
    script = _scripts()
    try:
        for revision in current:
            script.get_revision(revision)
    except CommandError:
        return fail(
            AREA,
            name,
            f"at {', '.join(sorted(current))}, unknown to this code (head "
            f"{', '.join(sorted(heads))})",
            "the database is newer than the deployed code: deploy the current version",
        )
    return fail(
        AREA,
        name,
        f"at {', '.join(sorted(current))}, behind head {', '.join(sorted(heads))}",
        _UPGRADE,
    )


async def check_database(settings: Settings) -> list[Finding]:
    """Connect, compare the schema with the migrations' head, check TLS."""
    raw = settings.database_url.strip()
    if raw.startswith(KEY_VAULT_REFERENCE):
        return [
            fail(
                AREA,
                "Connection",
                "not tried: DATABASE_URL is an unresolved Key Vault reference",
                "see the DATABASE_URL line above",
            )
        ]
    url = settings.effective_database_url
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        return [fail(AREA, "Connection", "DATABASE_URL is not a database URL", "fix DATABASE_URL")]
    sqlite = parsed.get_backend_name() == "sqlite"
    memory = parsed.database in (None, "", ":memory:")
    if sqlite and not memory and not Path(str(parsed.database)).is_file():
        return [
            warn(
                AREA,
                "Connection",
                f"no database yet at {parsed.database}",
                "`mamoru serve` or `mamoru db upgrade` creates it",
            )
        ]
    engines = create_engines(url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            async with engines.read.connect() as connection:
                current, tls = await connection.run_sync(_schema_state)
    except Exception as exc:  # any failure to connect is the finding itself
        return [
            fail(
                AREA,
                "Connection",
                f"cannot connect: {type(exc).__name__}: {_safe(str(exc), parsed.password)}",
                "check DATABASE_URL, that the server is up, and (Azure) the VNet integration "
                "and private DNS zone",
            )
        ]
    finally:
        await engines.dispose()
    where = "SQLite file" if sqlite else f"PostgreSQL at {parsed.host}"
    findings = [ok(AREA, "Connection", f"{where}: connected")]
    findings.append(check_migrations(current, script_heads()))
    if sqlite:
        findings.append(ok(AREA, "TLS", "not applicable: a local SQLite file"))
    elif tls:
        findings.append(ok(AREA, "TLS", "this connection is encrypted (pg_stat_ssl)"))
    else:
        findings.append(
            fail(
                AREA,
                "TLS",
                "this connection is NOT encrypted",
                "add ?ssl=require to DATABASE_URL and set require_secure_transport=ON on the "
                "server (deploy/infra/modules/postgres.bicep does)",
            )
        )
    return findings


def _safe(message: str, password: str | object | None) -> str:
    """An error message without the password, first line, at most 200 characters."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    if isinstance(password, str) and password:
        line = line.replace(password, "***")
    return line[:200]
