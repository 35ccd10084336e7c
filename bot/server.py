"""The aiohttp web application: ``POST /api/messages`` and ``GET /healthz``.

Malformed requests get a 400 with a reason (never a 500): the SDK would raise on
an activity that does not validate. With a tenant configured, an activity from any
other tenant (``conversation.tenantId``) gets a 403 before the bot sees it.

``settle_collector`` tunes the garbage collector for serving (called once startup is done).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import jwt
from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware
from microsoft_agents.hosting.core import AgentApplication, AgentAuthConfiguration, TurnState
from pydantic import ValidationError

from bot import __version__
from bot.background import Foreground

log = logging.getLogger(__name__)
HEALTH_CHECK_SECONDS = 1.5  # each check's budget: /healthz answers within 2 s
MAX_BODY_BYTES = 1024 * 1024  # Teams activities are far smaller; 100 KB of text still fits

# Container objects allocated (net of those freed) between two young-generation collections.
# Python's default, 700, suits programs whose objects are few and long-lived. A server with
# 50 turns in flight holds some 15,000 young objects still in use (activities, cards, the
# SDK's turn state): at 700 the collector ran every few turns, scanned them all each time
# and promoted them into the older generations, where full collections scanned them again
# (≈ 0.3 ms of CPU per turn in the guidance benchmark, more at 50 concurrent than at 1).
# At 50,000 a collection comes every few hundred turns, finds most of what turns allocated
# already freed by reference counting, and collects the cycles turns leave behind (the SDK's
# turn context) young; no full collection while serving. Cost: ≈ 5 MB more held between
# collections (20,000 measured ≈ 0.05 ms per turn more at 50 concurrent, for 5 MB less).
YOUNG_COLLECTION_THRESHOLD = 50_000

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]


def settle_collector() -> None:
    """Tune the garbage collector for serving turns; call once startup is done.

    What startup built (models, schemas, playbooks, the triage vocabulary) lives as long
    as the process: frozen out of the collector's view, a full collection scans only what
    turns leave behind (≈ 150 ms for each one otherwise, under load). Young collections
    run after ``YOUNG_COLLECTION_THRESHOLD`` allocations instead of 700 (see there).
    """
    gc.collect()
    gc.freeze()
    _young, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


def _token_without_key_id(authorization: str | None) -> bool:
    """Whether the header carries a bearer JWT that names no signing key (``kid``).

    Such a token can never be verified; the SDK (1.9) raises KeyError on it, which
    would be a 500. Anything else malformed is answered with a 401 by the SDK itself.
    """
    parts = (authorization or "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return False
    try:
        return "kid" not in jwt.get_unverified_header(parts[1])
    except jwt.PyJWTError:
        return False


def _foreign_tenant(body: dict[str, Any], tenant_id: str) -> bool:
    """Whether the activity comes from a conversation outside ``tenant_id`` (or names none)."""
    conversation = body.get("conversation")
    tenant = conversation.get("tenantId") if isinstance(conversation, dict) else None
    return not isinstance(tenant, str) or tenant.strip().lower() != tenant_id.strip().lower()


def build_web_app(
    agent: AgentApplication[TurnState],
    adapter: CloudAdapter,
    auth_config: AgentAuthConfiguration,
    health_checks: dict[str, HealthCheck],
    *,
    tenant_id: str = "",
    foreground: Foreground | None = None,
) -> web.Application:
    """The web application serving the agent and the health endpoint.

    ``tenant_id``: when set, only activities from conversations of that tenant are served.
    ``foreground``: counts the activities being answered (background work waits for them).
    """

    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _bad_request("the body is not JSON")
        if not isinstance(body, dict):
            return _bad_request("the body is not a JSON object (an Activity)")
        try:
            activity = Activity.model_validate(body)
        except ValidationError as exc:
            fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
            log.warning("activity refused: malformed (%s)", fields or "shape")
            return _bad_request(f"the activity is malformed ({fields or 'shape'})")
        if tenant_id and _foreign_tenant(body, tenant_id):
            # A valid Bot Framework token says nothing about the tenant: Teams users of any
            # organisation could otherwise reach the bot (and forge nothing else to do it).
            log.warning("activity refused: conversation of another tenant")
            return web.json_response({"error": "this bot serves one organisation only"}, status=403)
        with foreground.serving() if foreground else contextlib.nullcontext():
            return await _process(adapter, agent, _ValidatedRequest(request, activity))

    async def healthz(_request: web.Request) -> web.Response:
        # The checks run together, each bounded: App Service's probe must get an answer
        # within 2 s even while the database waits on a lock (then: degraded).
        names = list(health_checks)
        outcomes = await asyncio.gather(
            *(_bounded(health_checks[name]) for name in names), return_exceptions=True
        )
        results: dict[str, Any] = {}
        healthy = True
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                ok, detail = False, type(outcome).__name__
            else:
                ok, detail = outcome
            results[name] = {"ok": ok, "detail": detail}
            healthy = healthy and ok
        return web.json_response(
            {"status": "ok" if healthy else "degraded", "version": __version__, "checks": results},
            status=200 if healthy else 503,
        )

    @web.middleware
    async def auth_only_for_messages(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Tokens are checked for the Bot Connector endpoint only; /healthz is public.
        if request.path == "/api/messages":
            if _token_without_key_id(request.headers.get("Authorization")):
                log.warning("JWT validation error: no key id")
                return web.json_response(
                    {"error": "Invalid token or authentication failed."}, status=401
                )
            return await jwt_authorization_middleware(request, handler)  # type: ignore[no-any-return]
        return await handler(request)

    web_app = web.Application(middlewares=[auth_only_for_messages], client_max_size=MAX_BODY_BYTES)
    web_app["agent_configuration"] = auth_config
    web_app.router.add_post("/api/messages", messages)
    web_app.router.add_get("/healthz", healthz)
    return web_app


class _ValidatedRequest:
    """The request as the SDK's adapter reads it (``HttpRequestProtocol``), already validated.

    Its body is the ``Activity`` validated above, so the SDK neither parses the JSON again
    nor validates it again (validating an ``Activity`` instance returns it as it is): about
    10 µs of the ≈ 2 ms a turn costs.
    """

    def __init__(self, request: web.Request, activity: Activity) -> None:
        self._request = request
        self._activity = activity

    @property
    def method(self) -> str:
        return self._request.method

    @property
    def headers(self) -> Mapping[str, str]:
        return self._request.headers

    async def json(self) -> Activity:
        return self._activity

    def get_claims_identity(self) -> Any:
        return self._request.get("claims_identity")

    def get_path_param(self, name: str) -> str:
        return self._request.match_info[name]


async def _process(
    adapter: CloudAdapter, agent: AgentApplication[TurnState], request: _ValidatedRequest
) -> web.Response:
    """What ``CloudAdapter.process`` does, for a request whose activity is validated already."""
    answer = await adapter.process_request(request, agent)  # type: ignore[arg-type]
    if answer.body is not None:
        return web.json_response(answer.body, status=answer.status_code, headers=answer.headers)
    return web.Response(
        status=answer.status_code, headers=answer.headers, content_type=answer.content_type
    )


async def _bounded(check: Callable[[], Awaitable[tuple[bool, str]]]) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check(), HEALTH_CHECK_SECONDS)
    except TimeoutError:
        return False, f"no answer within {HEALTH_CHECK_SECONDS:g} s"
