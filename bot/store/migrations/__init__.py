"""Alembic migrations, shipped inside the package and run by ``bot.store.migrate.upgrade``."""
