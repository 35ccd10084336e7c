"""The composition root: the only place where concrete pieces are wired together.

Tests call ``build_app`` with fakes or the local Graph service; production
passes nothing and gets the real pieces from Settings.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import Settings
from bot.domain.access import Viewer
from bot.domain.matcher import Matcher
from bot.domain.ports import Clock, Store, SystemClock
from bot.evidence.blobs import LocalBlobStore
from bot.guidance import Guide
from bot.playbooks import load_library
from bot.server import build_web_app
from bot.store import migrate
from bot.store.sql import SqlStore
from bot.teams import guidance as guidance_routes
from bot.teams import incidents as incident_routes
from bot.teams import lifecycle
from bot.teams.actions import ActionDispatcher
from bot.teams.hosting import build_hosting

log = logging.getLogger(__name__)


class ConfigurationError(Exception):
    """Mamoru cannot start with these settings; the message says what to change."""


def build_guide(settings: Settings) -> Guide:
    """Playbooks and matcher: everything needed to answer with guidance."""
    library = load_library(settings.playbooks_dir)
    matcher = Matcher(
        library, threshold=settings.match_threshold, max_chars=settings.max_message_chars
    )
    return Guide(library, matcher)


def build_store(settings: Settings, clock: Clock) -> Store:
    """The incident and evidence store from Settings (no I/O until first used)."""
    blobs = LocalBlobStore(settings.data_dir / "blobs")
    return SqlStore.from_url(settings.effective_database_url, blobs=blobs, clock=clock)


def build_app(
    settings: Settings, *, store: Store | None = None, clock: Clock | None = None
) -> web.Application:
    """The whole bot as an aiohttp application; migrations run when it starts."""
    problem = settings.serving_problem()
    if problem:
        raise ConfigurationError(problem)
    clock = clock or SystemClock()
    own_store = store is None
    store = store or build_store(settings, clock)
    guide = build_guide(settings)
    agent, adapter, auth_config = build_hosting(settings)

    actions = ActionDispatcher()
    agent.add_route(actions.selects, actions.handle, is_invoke=True)
    commands = incident_routes.register(
        agent,
        actions,
        guide.library,
        store,
        department=settings.default_department,
        max_text=settings.max_message_chars,
    )
    guidance_routes.register(agent, actions, guide, commands)
    lifecycle.register(agent, guide.library)

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

    async def open_store(_app: web.Application) -> None:
        if own_store:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await migrate.upgrade(settings.effective_database_url)
            log.info("database ready (%s)", _redacted(settings.effective_database_url))

    async def close_store(_app: web.Application) -> None:
        if own_store:
            await store.close()

    web_app.on_startup.append(open_store)
    web_app.on_cleanup.append(close_store)
    if settings.has_bot_identity:
        log.info("bot identity %s: tokens are required on /api/messages", settings.client_id)
    if settings.allow_anonymous:
        log.warning(
            "ANONYMOUS mode: /api/messages accepts requests without a token. "
            "Local use only (Agents Playground); never enable this in Azure."
        )
    return web_app


def _redacted(url: str) -> str:
    """The database URL without its password, for the startup log."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
