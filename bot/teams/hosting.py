"""Building the Agents SDK pieces from Settings: connections, adapter, application.

With no bot identity configured (a local run), outgoing calls to the connector
are made without a token; the SDK would otherwise ask MSAL for one and fail.
"""

from __future__ import annotations

from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AuthTypes,
    MemoryStorage,
    RestChannelServiceClientFactory,
    TurnState,
)
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase, UserTokenClientBase

from bot.config import BotAuthType, Settings

_AUTH_TYPES = {
    BotAuthType.CLIENT_SECRET: AuthTypes.client_secret,
    BotAuthType.CERTIFICATE: AuthTypes.certificate,
    BotAuthType.USER_MANAGED_IDENTITY: AuthTypes.user_managed_identity,
}


class AnonymousClientFactory(RestChannelServiceClientFactory):
    """Connector clients without tokens: only for local runs with no bot identity."""

    async def create_connector_client(  # type: ignore[override]
        self,
        context: object,
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

    async def create_user_token_client(  # type: ignore[override]
        self, context: object, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClientBase:
        """A user-token client without a token (Mamoru uses no user sign-in)."""
        return await super().create_user_token_client(context, claims_identity, use_anonymous=True)


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
    )


def build_hosting(
    settings: Settings,
) -> tuple[AgentApplication[TurnState], CloudAdapter, AgentAuthConfiguration]:
    """The agent application, its adapter and the auth configuration for the JWT middleware."""
    config = auth_configuration(settings)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": config})
    if settings.has_bot_identity:
        adapter = CloudAdapter(connection_manager=connections)
    else:
        adapter = CloudAdapter(channel_service_client_factory=AnonymousClientFactory(connections))
    # No typing indicator: answers are immediate, and under load the SDK would send one per
    # slow turn (an extra connector call each).
    app = AgentApplication[TurnState](
        storage=MemoryStorage(), connection_manager=connections, start_typing_timer=False
    )
    return app, adapter, config
