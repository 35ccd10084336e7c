"""The endpoints Graph posts change and lifecycle notifications to.

Graph first validates each endpoint with ``?validationToken=...`` and expects the token
back as ``text/plain`` within 10 seconds. Notifications are answered 202 at once (Graph
wants an answer within 3 seconds); the delta round they trigger runs afterwards.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.flood.watch import FloodWatch

log = logging.getLogger(__name__)
NOTIFICATIONS_PATH = "/api/graph/notifications"
LIFECYCLE_PATH = "/api/graph/lifecycle"
MAX_TOKEN = 1024


def add_routes(app: web.Application, watch: FloodWatch) -> None:
    """Serve both notification endpoints on the bot's web app."""

    async def receive(request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            if len(token) > MAX_TOKEN:
                return web.Response(status=400, text="validation token too long")
            # Plain text only: the token is echoed, never interpreted or rendered.
            return web.Response(status=200, text=token, content_type="text/plain")
        try:
            payload = await request.json()
        except ValueError:
            return web.Response(status=400, text="expected JSON")
        accepted = await watch.on_notifications(payload if isinstance(payload, dict) else {})
        # 202 either way: a refused notification learns nothing about why.
        del accepted
        return web.Response(status=202)

    app.router.add_post(NOTIFICATIONS_PATH, receive)
    app.router.add_post(LIFECYCLE_PATH, receive)
