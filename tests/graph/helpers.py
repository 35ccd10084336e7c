"""Test helpers: a small tenant, a client-side request recorder, a transport to the sandbox."""

from __future__ import annotations

from graph.auth import ClientCredentialsTokenProvider
from graph.sandbox import RunningSandbox, Tenant
from graph.transport import GraphTransport, RetryPolicy, SentRequest

CLIENT_ID = "test-app"
SECRET = "test-secret"
ROLES = {
    "Mail.ReadWrite",
    "MailboxSettings.ReadWrite",
    "Mail.Send",
    "Calendars.ReadWrite",
    "GroupMember.Read.All",
}
MAILBOX = "tanaka@city.example.jp"

# Fast retries for tests: the policy's shape is what matters, not minutes of waiting.
FAST_RETRY = RetryPolicy(
    max_attempts=5, max_total_seconds=10.0, backoff_base=0.01, backoff_max=0.05
)


def new_tenant() -> Tenant:
    """A tenant with three users, a managers group and the test app."""
    tenant = Tenant()
    tenant.add_user(MAILBOX, "田中 花子")
    tenant.add_user("suzuki@city.example.jp", "鈴木 次郎")
    tenant.add_user("kacho@city.example.jp", "高橋 課長")
    tenant.add_group("managers", ["kacho@city.example.jp"])
    tenant.add_app(CLIENT_ID, SECRET, ROLES)
    return tenant


class Sent:
    """Every request that left the client (recorded at the transport)."""

    def __init__(self) -> None:
        self.items: list[SentRequest] = []

    def __call__(self, req: SentRequest) -> None:
        self.items.append(req)


def make_transport(
    running: RunningSandbox,
    sent: Sent | None = None,
    *,
    client_id: str = CLIENT_ID,
    secret: str = SECRET,
    retry: RetryPolicy = FAST_RETRY,
) -> GraphTransport:
    """A transport to the sandbox authenticated with the client-credentials provider."""
    tokens = ClientCredentialsTokenProvider(running.token_url, client_id, secret)
    return GraphTransport(running.base_url, tokens, retry=retry, on_request=sent)
