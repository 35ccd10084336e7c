"""Building the Agents SDK pieces from Settings: connections, adapter, application.

With no bot identity configured (a local run), outgoing calls to the connector
are made without a token; the SDK would otherwise ask MSAL for one and fail.

With a bot identity, two checks the SDK leaves off by default are turned on: tokens
must come from the Bot Framework or the configured tenant (issuer allow-list), and an
activity's serviceUrl must be a Microsoft connector host *and* the host its token's
``serviceurl`` claim names, so the bot never sends its own token anywhere else.

Mamoru uses no user sign-in (OAuth cards, SSO), yet the SDK builds a ``UserTokenClient``
for every turn: a new aiohttp session (never closed), an MSAL token lookup and, without
an app id, a warning in the log per turn. ``OneUserTokenClient`` makes one, token-less,
and hands it to every turn.

The connector clients it makes write their JSON with pydantic-core's encoder (Rust, UTF-8)
instead of ``json.dumps``: the SDK turns each outgoing activity into plain dicts and lists
and aiohttp encodes them; for a guidance card (≈ 350 values) ``json.dumps`` took ≈ 50 µs a
turn and pydantic-core takes ≈ 15 µs. The JSON is the same values; Japanese text goes out
as UTF-8 rather than ``\\u`` escapes (a third smaller). ``fast_json`` says how.
"""

from __future__ import annotations

from aiohttp import ClientSession
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AuthTypes,
    MemoryStorage,
    RestChannelServiceClientFactory,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase, UserTokenClientBase
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.security import OutboundHostValidator
from pydantic_core import to_json
from yarl import URL

from bot.config import BotAuthType, Settings

_AUTH_TYPES = {
    BotAuthType.CLIENT_SECRET: AuthTypes.client_secret,
    BotAuthType.CERTIFICATE: AuthTypes.certificate,
    BotAuthType.USER_MANAGED_IDENTITY: AuthTypes.user_managed_identity,
}


def fast_json(client: ConnectorClientBase) -> ConnectorClientBase:
    """``client`` with its HTTP session encoding request bodies with pydantic-core.

    aiohttp takes an encoder that returns bytes (``json_serialize_bytes``) only as a
    ``ClientSession`` argument, and the SDK makes the session itself: set on the session
    the SDK made (an attribute aiohttp declares for it). A client without an aiohttp
    session of its own is returned as it is.
    """
    session = getattr(client, "client", None)
    if isinstance(session, ClientSession) and hasattr(session, "_json_serialize_bytes"):
        session._json_serialize_bytes = to_json
    return client


class OneUserTokenClient(RestChannelServiceClientFactory):
    """The SDK's client factory, with one user-token client for all turns (no user sign-in).

    Its connector clients encode JSON with pydantic-core (``fast_json``).
    """

    def __init__(self, connections: MsalConnectionManager) -> None:
        super().__init__(connections)
        self._user_tokens: UserTokenClient | None = None

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        """The SDK's connector client, with the faster JSON encoder."""
        client = await super().create_connector_client(
            context,
            claims_identity,
            service_url,
            audience,
            scopes,
            use_anonymous=use_anonymous,
        )
        return fast_json(client)

    async def create_user_token_client(  # type: ignore[override]
        self, context: object, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClientBase:
        """The one token-less user-token client (Mamoru never asks it for a user's token)."""
        if self._user_tokens is None:
            self._user_tokens = UserTokenClient(
                endpoint=self._token_service_endpoint,
                token="",
                app_id=claims_identity.get_app_id() or "mamoru",
            )
        return self._user_tokens


class AnonymousClientFactory(OneUserTokenClient):
    """Connector clients without tokens: only for local runs with no bot identity."""

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        """A connector client that sends no Authorization header."""
        return await super().create_connector_client(
            context, claims_identity, service_url, audience, scopes, use_anonymous=True
        )


class ConnectorHostValidator(OutboundHostValidator):
    """The SDK's serviceUrl validator, plus origins configured explicitly.

    Enabled, the SDK refuses (401) an activity whose serviceUrl is not a Microsoft
    connector host, or whose host differs from its token's ``serviceurl`` claim. The
    extra origins (``MAMORU_CONNECTOR_ORIGINS``) let a local stand-in connector on
    ``http://127.0.0.1`` through, which the SDK's rules (https, no loopback) would not.
    """

    def __init__(self, extra_origins: frozenset[str] = frozenset()) -> None:
        super().__init__(enabled=True)
        self._extra_origins = frozenset(_origin(URL(o)) for o in extra_origins)

    def is_allowed(self, url: str | URL) -> bool:
        """Whether ``url`` may be an activity's serviceUrl."""
        parsed = URL(str(url))
        if parsed.host and _origin(parsed) in self._extra_origins:
            return not parsed.user and not parsed.password
        return super().is_allowed(url)


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host_port_subcomponent}".lower()


def auth_configuration(settings: Settings) -> AgentAuthConfiguration:
    """The SDK's view of the bot identity (also used to validate incoming tokens)."""
    if not settings.has_bot_identity:
        return AgentAuthConfiguration(anonymous_allowed=settings.allow_anonymous)
    return AgentAuthConfiguration(
        auth_type=_AUTH_TYPES[settings.auth_type],
        client_id=settings.client_id,
        tenant_id=settings.tenant_id or None,
        client_secret=settings.client_secret.get_secret_value() or None,
        cert_pfx_file=str(settings.certificate_path) if settings.certificate_path else None,
        anonymous_allowed=settings.allow_anonymous,
        # The default list: the Bot Framework issuer and this tenant's v1/v2 Entra issuers
        # (the SDK adds Microsoft's own first-party tenants). Another tenant's token is
        # refused even when its audience is this bot.
        validate_issuer=True,
    )


def build_hosting(
    settings: Settings,
) -> tuple[AgentApplication[TurnState], CloudAdapter, AgentAuthConfiguration]:
    """The agent application, its adapter and the auth configuration for the JWT middleware."""
    config = auth_configuration(settings)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": config})
    if settings.has_bot_identity:
        adapter = CloudAdapter(
            channel_service_client_factory=OneUserTokenClient(connections),
            host_validator=ConnectorHostValidator(settings.connector_origin_set),
        )
    else:
        adapter = CloudAdapter(channel_service_client_factory=AnonymousClientFactory(connections))
    # No typing indicator: answers are immediate, and under load the SDK would send one per
    # slow turn (an extra connector call each).
    app = AgentApplication[TurnState](
        storage=MemoryStorage(), connection_manager=connections, start_typing_timer=False
    )
    return app, adapter, config
