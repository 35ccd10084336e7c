"""The sandbox's admin API (``/_sandbox/...``): deliver mail, set faults, apps, recorded requests.

Not part of Graph: it stands in for the outside world (senders, Entra admins,
outages) so that tests, demos and benchmarks can drive it over HTTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from aiohttp import web

from graph.sandbox.seed import mail_bomb
from graph.sandbox.service import Sandbox


def add_admin_routes(app: web.Application, key: web.AppKey[Sandbox]) -> None:
    """Register the admin endpoints on the web app."""

    def sb(request: web.Request) -> Sandbox:
        return request.app[key]

    async def deliver(request: web.Request) -> web.Response:
        """POST {mailbox, from, fromName?, subject?, body?, count?, spanSeconds?}: inject mail."""
        data: dict[str, Any] = await request.json()
        sandbox = sb(request)
        box = sandbox.tenant.mailbox(str(data.get("mailbox", "")))
        if box is None:
            return web.json_response({"error": "unknown mailbox"}, status=404)
        count = int(data.get("count", 1))
        if count > 1 or "spanSeconds" in data:
            msgs = mail_bomb(
                sandbox.tenant,
                box,
                sender=str(data["from"]),
                sender_name=str(data.get("fromName", "")),
                count=count,
                span=dt.timedelta(seconds=float(data.get("spanSeconds", 3600))),
            )
        else:
            msgs = [
                sandbox.tenant.deliver(
                    box,
                    from_address=str(data["from"]),
                    from_name=str(data.get("fromName", "")),
                    subject=str(data.get("subject", "")),
                    body=str(data.get("body", "")),
                )
            ]
        return web.json_response({"delivered": len(msgs), "ids": [m.immutable_id for m in msgs]})

    async def faults(request: web.Request) -> web.Response:
        """GET: current faults; POST: update (latency, rate429, rate503, rateDrop, queue, ...)."""
        sandbox = sb(request)
        if request.method == "POST":
            sandbox.faults.update(await request.json())
        return web.json_response(sandbox.faults.describe())

    async def requests(request: web.Request) -> web.Response:
        """Every recorded Graph request (method, path, query, app, body, status)."""
        return web.json_response([asdict(r) for r in sb(request).tenant.requests])

    async def clear_requests(request: web.Request) -> web.Response:
        """Forget recorded requests."""
        sb(request).tenant.requests.clear()
        return web.json_response({"cleared": True})

    async def stats(request: web.Request) -> web.Response:
        """Throttling figures per app and mailbox."""
        from graph.sandbox.server import stats as compute

        return web.json_response(compute(sb(request)))

    async def apps(request: web.Request) -> web.Response:
        """POST {clientId, clientSecret, roles, mailboxScope?, tenantWide?}: register an app."""
        data = await request.json()
        scope = data.get("mailboxScope")
        app = sb(request).tenant.add_app(
            data["clientId"],
            data["clientSecret"],
            set(data.get("roles", [])),
            set(scope) if scope else None,
            tenant_wide=data.get("tenantWide"),
        )
        return web.json_response({"clientId": app.client_id, "roles": sorted(app.roles)})

    async def app_state(request: web.Request) -> web.Response:
        """POST {revoked?, secretExpired?}: revoke or expire an app's credentials."""
        data = await request.json()
        app = sb(request).tenant.apps.get(request.match_info["client_id"])
        if app is None:
            return web.json_response({"error": "unknown app"}, status=404)
        app.revoked = bool(data.get("revoked", app.revoked))
        app.secret_expired = bool(data.get("secretExpired", app.secret_expired))
        return web.json_response({"revoked": app.revoked, "secretExpired": app.secret_expired})

    async def summary(request: web.Request) -> web.Response:
        """Folder paths with message counts, and rules, of one mailbox."""
        box = sb(request).tenant.mailbox(request.match_info["upn"])
        if box is None:
            return web.json_response({"error": "unknown mailbox"}, status=404)

        def path(fid: str | None) -> str:
            names = []
            while fid and (f := box.folders.get(fid)) and f.well_known != "msgfolderroot":
                names.append(f.display_name)
                fid = f.parent_id
            return "/".join(reversed(names))

        counts: dict[str, int] = {}
        for m in box.messages.values():
            counts[path(m.folder_id)] = counts.get(path(m.folder_id), 0) + 1
        return web.json_response({"folders": counts, "rules": box.rules})

    app.router.add_post("/_sandbox/deliver", deliver)
    app.router.add_route("GET", "/_sandbox/faults", faults)
    app.router.add_route("POST", "/_sandbox/faults", faults)
    app.router.add_get("/_sandbox/requests", requests)
    app.router.add_post("/_sandbox/requests/clear", clear_requests)
    app.router.add_get("/_sandbox/stats", stats)
    app.router.add_post("/_sandbox/apps", apps)
    app.router.add_post("/_sandbox/apps/{client_id}", app_state)
    app.router.add_get("/_sandbox/mailboxes/{upn}", summary)
