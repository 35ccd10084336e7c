"""The sandbox as an aiohttp web app: Graph v1.0 subset, token endpoint, $batch and admin API.

Run alone with ``mamoru sandbox``, or in-process with ``start_sandbox()`` (tests,
benchmarks, ``mamoru serve`` without Azure). Admin endpoints under ``/_sandbox``
deliver mail (including mail bombs), set faults and show recorded requests;
the service only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aiohttp import web

import graph.sandbox.routes_changes  # delta and subscriptions (registers on the same router)
import graph.sandbox.routes_other  # noqa: F401  (registers its routes on the shared router)
from graph.sandbox.routes_mail import router
from graph.sandbox.service import Ctx, DropConnection, GraphHttpError, Reply, Sandbox, error_body
from graph.sandbox.state import Tenant, utcnow
from graph.sandbox.throttle import Limits

VERSION = "/v1.0"
SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox", Sandbox)


def make_sandbox(tenant: Tenant | None = None, limits: Limits | None = None) -> Sandbox:
    """A sandbox over a tenant (empty if none given) with the full route table."""
    return Sandbox(tenant or Tenant(), router, limits)


def _json_response(reply: Reply) -> web.Response:
    if isinstance(reply.body, bytes):
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.json_response(reply.body, status=reply.status, headers=reply.headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _error_reply(exc: GraphHttpError) -> Reply:
    return Reply(exc.status, error_body(exc.code, exc.message), exc.headers)


def _immutable(prefer: str) -> bool:
    return "idtype" in prefer.lower().replace(" ", "") and "immutableid" in prefer.lower()


async def graph_handler(request: web.Request) -> web.StreamResponse:
    """Every Graph request under /v1.0 except $batch."""
    sandbox = request.app[SANDBOX_KEY]
    path = request.path[len(VERSION) :] or "/"
    body = None
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            return _json_response(
                Reply(400, error_body("BadRequest", "Unable to read JSON request payload."))
            )
    rec = sandbox.record(request.method, path, request.rel_url.raw_query_string, "", body, False)
    try:
        app = sandbox.authenticate(request.headers.get("Authorization", ""))
        rec.app_id = app.client_id
        ctx = Ctx(
            sandbox,
            app,
            request.method,
            path,
            dict(request.query),
            body,
            _immutable(request.headers.get("Prefer", "")),
            f"http://{request.host}{VERSION}",
        )
        reply = await sandbox.dispatch(ctx)
    except GraphHttpError as exc:
        reply = _error_reply(exc)
    except DropConnection:
        rec.status = -1
        if request.transport is not None:
            request.transport.abort()  # the client sees a dropped connection
        return web.Response(status=500)
    rec.status = reply.status
    return _json_response(reply)


async def batch_handler(request: web.Request) -> web.StreamResponse:
    """JSON batching: ≤20 items, unique ids, each with its own status; 4 run at once.

    Items run in any order unless ``dependsOn`` orders them (a failed dependency: 424).
    """
    sandbox = request.app[SANDBOX_KEY]
    try:
        body = await request.json()
    except ValueError:
        return _json_response(
            Reply(400, error_body("BadRequest", "Unable to read JSON request payload."))
        )
    sandbox.record("POST", "/$batch", "", "", body, False)
    try:
        app = sandbox.authenticate(request.headers.get("Authorization", ""))
    except GraphHttpError as exc:
        return _json_response(_error_reply(exc))
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return _json_response(Reply(400, error_body("BadRequest", "Invalid batch payload format.")))
    if len(items) > 20:
        return _json_response(
            Reply(
                400, error_body("BadRequest", "Number of batch requests exceeds the limit of 20.")
            )
        )
    if len({str(i.get("id")) for i in items}) != len(items):
        return _json_response(
            Reply(400, error_body("BadRequest", "Batch request ids must be unique."))
        )
    if (refusal := _batch_refusal(items)) is not None:
        return _json_response(Reply(400, error_body("BadRequest", refusal)))
    base = f"http://{request.host}{VERSION}"
    gate = asyncio.Semaphore(sandbox.limits.concurrency)
    done: dict[str, asyncio.Future[dict[str, Any]]] = {
        str(i["id"]): asyncio.get_running_loop().create_future() for i in items
    }

    async def run(item: dict[str, Any]) -> dict[str, Any]:
        # dependsOn: run after the items named; if one of them failed, answer 424 unrun.
        for dep in _depends_on(item):
            if not 200 <= (await done[dep])["status"] < 300:
                return _failed_dependency(item, dep)
        async with gate:
            return await _run_item(sandbox, app, item, base)

    async def settle(item: dict[str, Any]) -> dict[str, Any]:
        answer = await run(item)
        done[str(item["id"])].set_result(answer)
        return answer

    responses = await asyncio.gather(*(settle(i) for i in items))
    return _json_response(Reply(200, {"responses": list(responses)}))


def _depends_on(item: dict[str, Any]) -> list[str]:
    deps = item.get("dependsOn") or []
    return [str(d) for d in deps] if isinstance(deps, list) else [str(deps)]


def _batch_refusal(items: list[dict[str, Any]]) -> str | None:
    """Why Graph refuses the whole batch (400), or None.

    Each item needs ``id``, ``method`` and ``url``; a body needs a ``Content-Type`` header in
    the item's own headers (the batch's header does not carry over); ``dependsOn`` may only
    name other items of the batch, without cycles.
    """
    ids = {str(i.get("id")) for i in items}
    for item in items:
        if not isinstance(item, dict) or not all(item.get(k) for k in ("id", "method", "url")):
            return "Invalid batch payload format: each request needs an id, a method and a url."
        headers = {str(k).lower() for k in (item.get("headers") or {})}
        if item.get("body") is not None and "content-type" not in headers:
            return f"Write request id : {item['id']} does not contain Content-Type header or body."
        for dep in _depends_on(item):
            if dep not in ids or dep == str(item["id"]):
                return f"Request id {item['id']} depends on an unknown request id {dep}."
    graph = {str(i["id"]): _depends_on(i) for i in items}
    visiting: set[str] = set()
    finished: set[str] = set()

    def cyclic(node: str) -> bool:
        if node in finished:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        found = any(cyclic(d) for d in graph[node])
        finished.add(node)
        return found

    if any(cyclic(n) for n in graph):
        return "The dependsOn of the batch requests form a cycle."
    return None


def _failed_dependency(item: dict[str, Any], dep: str) -> dict[str, Any]:
    body = error_body("FailedDependency", f"Depends on request {dep}, which failed.")
    return {
        "id": str(item["id"]),
        "status": 424,
        "headers": {"Content-Type": "application/json"},
        "body": body,
    }


async def _run_item(sandbox: Sandbox, app: Any, item: dict[str, Any], base: str) -> dict[str, Any]:
    parts = urlsplit(str(item.get("url", "")))
    path = unquote(parts.path) if parts.path.startswith("/") else "/" + unquote(parts.path)
    headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
    method = str(item.get("method", "GET")).upper()
    rec = sandbox.record(method, path, parts.query, app.client_id, item.get("body"), True)
    ctx = Ctx(
        sandbox,
        app,
        method,
        path,
        dict(parse_qsl(parts.query)),
        item.get("body"),
        _immutable(headers.get("Prefer", "")),
        base,
    )
    try:
        reply = await sandbox.dispatch(ctx)
    except GraphHttpError as exc:
        reply = _error_reply(exc)
    except DropConnection:
        reply = _error_reply(GraphHttpError(504, "GatewayTimeout", "The gateway timed out."))
    rec.status = reply.status
    out: dict[str, Any] = {
        "id": str(item.get("id")),
        "status": reply.status,
        "headers": dict(reply.headers),
    }
    if isinstance(reply.body, bytes):
        out["body"] = base64.b64encode(reply.body).decode()  # non-JSON bodies travel base64-encoded
        out["headers"].setdefault("Content-Type", "text/plain")
    elif reply.body is not None:
        out["body"] = reply.body
        out["headers"].setdefault("Content-Type", "application/json")
    return out


async def token_handler(request: web.Request) -> web.StreamResponse:
    """OAuth2 client credentials at ``/{tenant}/oauth2/v2.0/token``, shaped like Entra v2."""
    sandbox = request.app[SANDBOX_KEY]
    form = await request.post()
    tenant = request.match_info["tenant"]
    if tenant not in {sandbox.tenant.tenant_id, *sandbox.tenant.domains()}:
        return _oauth_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "AADSTS70003: The grant type is not supported."
        )
    app = sandbox.tenant.apps.get(str(form.get("client_id", "")))
    if app is None:
        return _oauth_error(
            400, "unauthorized_client", "AADSTS700016: Application not found in the directory."
        )
    if app.revoked:
        return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    if app.secret_expired:
        return _oauth_error(
            401, "invalid_client", "AADSTS7000222: The provided client secret keys are expired."
        )
    if form.get("client_secret") != app.client_secret:
        return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    lifetime = int(sandbox.limits.token_lifetime_seconds)
    return web.json_response(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": sandbox.issue_token(app),
        }
    )


def _oauth_error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


async def openid_handler(request: web.Request) -> web.StreamResponse:
    """OpenID configuration, so the authority looks like Entra's."""
    tenant = request.match_info["tenant"]
    root = f"http://{request.host}/{tenant}"
    return web.json_response(
        {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "issuer": f"{root}/v2.0",
        }
    )


def build_web_app(sandbox: Sandbox) -> web.Application:
    """The aiohttp application serving one sandbox."""
    from graph.sandbox.admin import add_admin_routes

    app = web.Application(client_max_size=32 * 1024**2)
    app[SANDBOX_KEY] = sandbox
    app.router.add_post(f"{VERSION}/$batch", batch_handler)
    app.router.add_route("*", VERSION + "/{tail:.*}", graph_handler)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token_handler)
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid_handler)
    add_admin_routes(app, SANDBOX_KEY)
    return app


@dataclass
class RunningSandbox:
    """A sandbox serving on 127.0.0.1; ``close()`` stops it."""

    sandbox: Sandbox
    root_url: str
    runner: web.AppRunner

    @property
    def base_url(self) -> str:
        """The Graph version root, e.g. ``http://127.0.0.1:51234/v1.0``."""
        return self.root_url + VERSION

    @property
    def token_url(self) -> str:
        """The client-credentials token endpoint for the sandbox's tenant."""
        return f"{self.root_url}/{self.sandbox.tenant.tenant_id}/oauth2/v2.0/token"

    async def close(self) -> None:
        """Stop serving."""
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_sandbox(sandbox: Sandbox | None = None, *, port: int = 0) -> RunningSandbox:
    """Serve a sandbox on 127.0.0.1 (port 0: a free one) and return where it listens."""
    sandbox = sandbox or make_sandbox()
    runner = web.AppRunner(build_web_app(sandbox), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None and hasattr(server, "sockets")
    actual = server.sockets[0].getsockname()[1]
    return RunningSandbox(sandbox, f"http://127.0.0.1:{actual}", runner)


def stats(sandbox: Sandbox) -> dict[str, Any]:
    """Throttling figures and recorded-request count (for the admin API and benchmarks)."""
    return {
        "throttle": sandbox.throttle.stats(),
        "recorded": len(sandbox.tenant.requests),
        "faults": sandbox.faults.describe(),
        "limits": asdict(sandbox.limits),
        "now": utcnow().isoformat(),
        "generatedAt": dt.datetime.now(dt.UTC).isoformat(),
    }
