"""The sandbox's request pipeline: routing, permissions, mailbox scope, faults, throttling.

The same pipeline serves plain HTTP requests and each item of a ``$batch``, so
both see identical permissions, throttling and faults, as with Graph.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graph.sandbox.state import App, Mailbox, RecordedRequest, Tenant, User, is_exchange_role
from graph.sandbox.throttle import Faults, Limits, Throttle


class GraphHttpError(Exception):
    """An error answer, in Graph's shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class DropConnection(Exception):
    """Close the connection without answering (fault injection)."""


@dataclass
class Reply:
    """A handler's answer: JSON (dict/None) or bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, message: str) -> dict[str, Any]:
    """Graph's error shape."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


@dataclass
class Ctx:
    """One request as handlers see it."""

    sandbox: Sandbox
    app: App
    method: str
    path: str  # under the version root, decoded, e.g. /users/a@b/messages
    query: dict[str, str]
    body: Any
    immutable: bool
    sandbox_base: str = ""  # e.g. http://127.0.0.1:5280/v1.0, for @odata.nextLink
    params: dict[str, str] = field(default_factory=dict)
    box: Mailbox | None = None
    user: User | None = None

    @property
    def tenant(self) -> Tenant:
        """The sandbox's tenant."""
        return self.sandbox.tenant

    def mailbox(self) -> Mailbox:
        """The mailbox addressed by ``{user}`` (resolved by the pipeline)."""
        if self.box is None:
            raise GraphHttpError(404, "ErrorInvalidUser", "The requested user is invalid.")
        return self.box


Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass
class Route:
    """One endpoint: method, path, handler and the application permissions it requires.

    ``roles``: any one of them suffices (least privileged first, as Microsoft's page lists
    them); ``also``: a second requirement, any one of which is needed as well (e.g. a
    user's ``checkMemberGroups`` needs a User and a GroupMember permission). ``doc``: the
    API reference page the permissions were taken from.
    """

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    roles: tuple[str, ...]
    also: tuple[str, ...] = ()
    doc: str = ""

    def allows(self, granted: set[str]) -> bool:
        """Whether these granted roles satisfy the route's permissions."""
        if self.roles and not granted & set(self.roles):
            return False
        return not self.also or bool(granted & set(self.also))


class Router:
    """Paths like ``/users/{user}/messages/{id}`` to handlers."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        roles: tuple[str, ...],
        *,
        also: tuple[str, ...] = (),
        doc: str = "",
    ) -> Callable[[Handler], Handler]:
        """Decorator registering a handler with its permissions and their source page."""
        regex = (
            "^"
            + re.sub(
                r"\{(\w+)\}",
                r"(?P<\1>[^/]+)",
                re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
            )
            + "/?$"
        )

        def deco(fn: Handler) -> Handler:
            self.routes.append(
                Route(method, template, re.compile(regex, re.IGNORECASE), fn, roles, also, doc)
            )
            return fn

        return deco

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for a request, or a Graph-shaped 400/405."""
        allowed = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict()
                allowed = True
        if allowed:
            raise GraphHttpError(
                405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed."
            )
        segment = path.strip("/").split("/")[-1] if path.strip("/") else ""
        raise GraphHttpError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


class Sandbox:
    """Tenant + limits + faults + the route table; one per running service."""

    def __init__(self, tenant: Tenant, router: Router, limits: Limits | None = None) -> None:
        self.tenant = tenant
        self.router = router
        self.limits = limits or Limits()
        self.throttle = Throttle(self.limits)
        self.faults = Faults()
        self._key = uuid.uuid4().bytes

    # --- tokens (compact JWS, HMAC-signed: shaped like Entra's, verified only here)

    def issue_token(self, app: App) -> str:
        """A bearer token carrying the app's roles."""
        now = int(time.time())
        claims = {
            "aud": "https://graph.microsoft.com",
            "iss": f"https://sts.windows.net/{self.tenant.tenant_id}/",
            "tid": self.tenant.tenant_id,
            "appid": app.client_id,
            "roles": app.token_roles(),
            "iat": now,
            "exp": now + int(self.limits.token_lifetime_seconds),
        }
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = _b64(hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}"

    def authenticate(self, authorization: str) -> App:
        """The app behind a bearer token, or 401 InvalidAuthenticationToken."""
        token = authorization.removeprefix("Bearer ").strip()
        parts = token.split(".")
        if not authorization.startswith("Bearer ") or len(parts) != 3:
            raise GraphHttpError(401, "InvalidAuthenticationToken", "Access token is empty.")
        expected = _b64(
            hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        )
        if not hmac.compare_digest(expected, parts[2]):
            raise GraphHttpError(401, "InvalidAuthenticationToken", "Invalid signature.")
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        if claims["exp"] < time.time():
            raise GraphHttpError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        app = self.tenant.apps.get(claims["appid"])
        if app is None or app.revoked:
            raise GraphHttpError(401, "InvalidAuthenticationToken", "The application was disabled.")
        return app

    # --- the pipeline

    def record(
        self, method: str, path: str, query: str, app_id: str, body: Any, in_batch: bool
    ) -> RecordedRequest:
        """Remember a request (tests read these to prove what was never sent)."""
        rec = RecordedRequest(method, path, query, app_id, body, in_batch)
        self.tenant.requests.append(rec)
        return rec

    async def dispatch(self, ctx: Ctx) -> Reply:
        """Route, authorise, inject faults, throttle, then run the handler."""
        route, ctx.params = self.router.match(ctx.method, ctx.path)
        if not route.allows(ctx.app.roles):
            if any(is_exchange_role(r) for r in route.roles):
                raise GraphHttpError(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            raise GraphHttpError(  # what Entra-backed directory endpoints answer
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        key_owner = "directory"
        if "user" in ctx.params:
            ctx.user = self.tenant.user(ctx.params["user"])
            if ctx.user is None:
                code = (
                    "ErrorInvalidUser"
                    if route.roles[:1] != ("User.Read.All",)
                    else "Request_ResourceNotFound"
                )
                raise GraphHttpError(
                    404, code, f"The requested user '{ctx.params['user']}' is invalid."
                )
            ctx.box = self.tenant.mailboxes.get(ctx.user.id)
            scope = ctx.app.mailbox_scope
            if (
                scope is not None
                and not ctx.app.tenant_wide  # an Entra consent reaches every mailbox
                and any(is_exchange_role(r) for r in route.roles)  # RBAC scopes Exchange only
                and ctx.user.upn.lower() not in scope
                and ctx.user.id not in scope
            ):
                # Exchange RBAC for Applications: outside the management scope = denied.
                raise GraphHttpError(
                    403,
                    "ErrorAccessDenied",
                    "Access to OData is disabled: the mailbox is outside the application's "
                    "management scope.",
                )
            if ctx.app.rbac_pending() and any(is_exchange_role(r) for r in route.roles):
                # Granted, but Exchange has not applied the assignment yet: the same 403.
                raise GraphHttpError(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            key_owner = ctx.user.id
        fault = self.faults.pick(ctx.path)
        after = self.faults.retry_after
        if fault == "429":
            raise GraphHttpError(
                429,
                "ApplicationThrottled",
                "Application is over its request limit.",
                {"Retry-After": f"{after:g}"},
            )
        if fault in {"503", "500"}:
            raise GraphHttpError(
                int(fault),
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
                {"Retry-After": f"{after:g}"},
            )
        if fault == "504":
            # Graph sends Retry-After with some 504s, not all: alternate, deterministically.
            self.faults.gateway_timeouts += 1
            odd = self.faults.gateway_timeouts % 2 == 1
            headers = {"Retry-After": f"{after:g}"} if odd else {}
            raise GraphHttpError(504, "GatewayTimeout", "The gateway timed out.", headers)
        if fault == "drop":
            raise DropConnection()
        key = (ctx.app.client_id, key_owner)
        wait = self.throttle.acquire(key)
        if wait is not None:
            raise GraphHttpError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency or request limit.",
                {"Retry-After": f"{wait:g}"},
            )
        try:
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            reply = await route.handler(ctx)
        finally:
            self.throttle.release(key)
        if fault == "drop-after":
            raise DropConnection()  # executed, but the answer is lost
        return reply


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
