"""The composition root: the only place where concrete pieces are wired together.

Tests call ``build_app`` with fakes or the local Graph service; production
passes nothing and gets the real pieces from Settings.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import Settings
from bot.domain.matcher import Matcher
from bot.domain.ports import Clock, SystemClock
from bot.guidance import Guide
from bot.playbooks import load_library
from bot.server import build_web_app
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


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The whole bot as an aiohttp application."""
    problem = settings.serving_problem()
    if problem:
        raise ConfigurationError(problem)
    _clock = clock or SystemClock()
    guide = build_guide(settings)
    agent, adapter, auth_config = build_hosting(settings)

    actions = ActionDispatcher()
    agent.add_route(actions.selects, actions.handle, is_invoke=True)
    commands = incident_routes.register(agent, actions)
    guidance_routes.register(agent, actions, guide, commands)
    lifecycle.register(agent, guide.library)

    async def playbooks_ok() -> tuple[bool, str]:
        return True, f"{len(guide.library)} playbooks"

    web_app = build_web_app(agent, adapter, auth_config, {"playbooks": playbooks_ok})
    if settings.has_bot_identity:
        log.info("bot identity %s: tokens are required on /api/messages", settings.client_id)
    if settings.allow_anonymous:
        log.warning(
            "ANONYMOUS mode: /api/messages accepts requests without a token. "
            "Local use only (Agents Playground); never enable this in Azure."
        )
    return web_app
