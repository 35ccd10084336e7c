"""Alembic environment: runs migrations on the connection ``bot.store.migrate`` passes in.

Mamoru never runs Alembic from an ini file; ``upgrade(url)`` opens the async engine and
hands a sync connection over through ``config.attributes`` (Alembic's documented recipe
for sharing a connection under asyncio).
"""

from __future__ import annotations

from alembic import context

from bot.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise SystemExit("run migrations with `mamoru db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
