"""Persistence: SQLAlchemy tables, Alembic migrations and the stores (SQL and in-memory).

``bot.store.migrate.upgrade(url)`` brings a database to the current schema;
``bot.store.sql.SqlStore`` and ``bot.store.memory.MemoryStore`` implement ``Store``.
"""
