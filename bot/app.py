"""The composition root: the only place where concrete pieces are wired together.

Tests call ``build_app`` with fakes or the local Graph service; production
passes nothing and gets the real pieces from Settings.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from bot.config import Settings
from bot.directory import ManagerDirectory
from bot.domain.access import Viewer
from bot.domain.matcher import Matcher
from bot.domain.ports import Clock, Directory, JobQueue, Registry, Store, SystemClock
from bot.escalation import ESCALATE_JOB, Escalations
from bot.evidence.blobs import LocalBlobStore
from bot.guidance import Guide
from bot.jobs.runner import JobHandler, JobRunner
from bot.jobs.sql import SqlJobQueue
from bot.playbooks import load_library
from bot.server import build_web_app
from bot.store import migrate
from bot.store.engine import create_engines
from bot.store.registry import SqlRegistry
from bot.store.sql import SqlStore
from bot.teams import escalation as escalation_routes
from bot.teams import guidance as guidance_routes
from bot.teams import incidents as incident_routes
from bot.teams import lifecycle
from bot.teams.actions import ActionDispatcher
from bot.teams.hosting import build_hosting
from bot.teams.messenger import Messenger

log = logging.getLogger(__name__)


class ConfigurationError(Exception):
    """Mamoru cannot start with these settings; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Persistence:
    """Everything kept in the database, on one set of engines."""

    store: Store
    registry: Registry
    jobs: JobQueue
    migrate_url: str | None  # set when build_app owns the database (runs migrations)


@dataclass(frozen=True, slots=True)
class Services:
    """The running pieces, reachable from the web app (tests and commands use them)."""

    guide: Guide
    persistence: Persistence
    escalations: Escalations
    runner: JobRunner


SERVICES = web.AppKey("mamoru_services", Services)


def build_guide(settings: Settings) -> Guide:
    """Playbooks and matcher: everything needed to answer with guidance."""
    library = load_library(settings.playbooks_dir)
    matcher = Matcher(
        library, threshold=settings.match_threshold, max_chars=settings.max_message_chars
    )
    return Guide(library, matcher)


def build_persistence(settings: Settings, clock: Clock) -> Persistence:
    """Store, registry and job queue on one database (no I/O until first used)."""
    url = settings.effective_database_url
    engines = create_engines(url)
    write_lock = asyncio.Lock()  # SQLite: this process's writers queue here, not on the file
    blobs = LocalBlobStore(settings.data_dir / "blobs")
    return Persistence(
        store=SqlStore(engines, blobs=blobs, clock=clock, write_lock=write_lock),
        registry=SqlRegistry(engines, clock=clock, write_lock=write_lock),
        jobs=SqlJobQueue(engines, clock=clock, write_lock=write_lock),
        migrate_url=url,
    )


def build_app(
    settings: Settings,
    *,
    persistence: Persistence | None = None,
    directory: Directory | None = None,
    clock: Clock | None = None,
    run_jobs: bool = True,
) -> web.Application:
    """The whole bot as an aiohttp application; migrations run and jobs start with it."""
    problem = settings.serving_problem()
    if problem:
        raise ConfigurationError(problem)
    clock = clock or SystemClock()
    persistence = persistence or build_persistence(settings, clock)
    directory = directory or ManagerDirectory(settings.manager_id_set)
    guide = build_guide(settings)
    agent, adapter, auth_config = build_hosting(settings)

    escalations = Escalations(
        store=persistence.store,
        registry=persistence.registry,
        directory=directory,
        jobs=persistence.jobs,
        messenger=Messenger(adapter, settings.client_id),
        library=guide.library,
        clock=clock,
    )
    handlers: dict[str, JobHandler] = {ESCALATE_JOB: escalations.run_escalation_job}
    runner = JobRunner(
        persistence.jobs,
        handlers,
        clock=clock,
        on_change=escalations.on_job_change,
    )

    actions = ActionDispatcher()
    agent.add_route(actions.selects, actions.handle, is_invoke=True)
    commands = incident_routes.register(
        agent,
        actions,
        guide.library,
        persistence.store,
        department=settings.default_department,
        max_text=settings.max_message_chars,
        on_reported=escalations.request_escalation,
    )
    commands |= escalation_routes.register(
        agent, actions, escalations, department=settings.default_department
    )
    guidance_routes.register(agent, actions, guide, commands)
    lifecycle.register(agent, guide.library)

    store = persistence.store

    async def playbooks_ok() -> tuple[bool, str]:
        return True, f"{len(guide.library)} playbooks"

    async def database_ok() -> tuple[bool, str]:
        try:
            await store.list_incidents(Viewer(object_id="healthz"), limit=1)
        except Exception as exc:  # health reports any failure, by type only
            return False, type(exc).__name__
        return True, "reachable"

    web_app = build_web_app(
        agent, adapter, auth_config, {"playbooks": playbooks_ok, "database": database_ok}
    )
    web_app[SERVICES] = Services(guide, persistence, escalations, runner)

    async def start(_app: web.Application) -> None:
        if persistence.migrate_url:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await migrate.upgrade(persistence.migrate_url)
            log.info("database ready (%s)", _redacted(persistence.migrate_url))
        if run_jobs:
            runner.start()

    async def stop(_app: web.Application) -> None:
        await runner.stop()
        if persistence.migrate_url:
            await persistence.store.close()

    web_app.on_startup.append(start)
    web_app.on_cleanup.append(stop)
    if settings.has_bot_identity:
        log.info("bot identity %s: tokens are required on /api/messages", settings.client_id)
    if settings.allow_anonymous:
        log.warning(
            "ANONYMOUS mode: /api/messages accepts requests without a token. "
            "Local use only (Agents Playground); never enable this in Azure."
        )
    if not settings.manager_id_set and not settings.manager_group_id:
        log.warning("no managers configured (MAMORU_MANAGER_IDS / MAMORU_MANAGER_GROUP_ID)")
    return web_app


def _redacted(url: str) -> str:
    """The database URL without its password, for the startup log."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
