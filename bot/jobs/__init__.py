"""Durable jobs: the queue (SQL and in-memory) and the runner that executes handlers.

``bot.jobs.sql.SqlJobQueue`` and ``bot.jobs.memory.MemoryJobQueue`` implement the
``JobQueue`` port; ``bot.jobs.runner.JobRunner`` claims jobs and runs their handlers
under a lease. docs/jobs.md explains the exactly-once reasoning.
"""
