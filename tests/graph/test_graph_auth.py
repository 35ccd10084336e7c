"""Token providers: msal off the event loop and built once; the sandbox's client credentials."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from graph import errors
from graph.auth import (
    ClientCredentialsTokenProvider,
    ClientSecretTokenProvider,
    ManagedIdentityTokenProvider,
    certificate_credential,
)
from graph.sandbox import RunningSandbox
from tests.graph.helpers import CLIENT_ID, SECRET

# What Entra must be asked for: a token whose audience is Microsoft Graph. Spelled out here,
# not imported, so that a change of graph/auth.py's constants fails these tests.
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_AUDIENCE = "https://graph.microsoft.com"


class FakeMsalApp:
    """Stands in for msal's application and checks what it is asked, as Entra would.

    ``confidential``: ``ConfidentialClientApplication.acquire_token_for_client(scopes=[...])``
    must ask for exactly Graph's ``.default`` scope; ``managed_identity``:
    ``ManagedIdentityClient.acquire_token_for_client(resource=...)`` for Graph's resource.
    Anything else gets Entra's refusal instead of a token. Records the calling thread.
    """

    def __init__(self, result: dict[str, Any], *, kind: str = "confidential") -> None:
        self.result = result
        self.kind = kind
        self.threads: list[int] = []
        self.calls: list[dict[str, Any]] = []

    def acquire_token_for_client(
        self, scopes: list[str] | None = None, *, resource: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        self.threads.append(threading.get_ident())
        self.calls.append({"scopes": scopes, "resource": resource, **extra})
        if self.kind == "confidential":
            wrong = scopes != [GRAPH_DEFAULT_SCOPE] or resource is not None
        else:
            wrong = resource != GRAPH_AUDIENCE or scopes is not None
        if wrong or extra:
            return {
                "error": "invalid_scope",
                "error_description": f"AADSTS70011: not a Graph token request: {self.calls[-1]}",
            }
        return self.result


async def test_msal_runs_in_a_worker_thread_and_is_not_built_eagerly() -> None:
    provider = ClientSecretTokenProvider("tenant", "client", "secret")
    assert provider._app is None  # constructing the provider does no network I/O
    fake = FakeMsalApp({"access_token": "t1", "expires_in": 3599})
    provider._app = fake
    async with aiohttp.ClientSession() as session:
        tokens = await asyncio.gather(*(provider.token(session) for _ in range(3)))
    assert tokens == ["t1"] * 3
    assert threading.get_ident() not in fake.threads  # never on the event loop's thread
    assert fake.calls and all(
        c == {"scopes": [GRAPH_DEFAULT_SCOPE], "resource": None} for c in fake.calls
    )


async def test_msal_errors_become_authentication_failed() -> None:
    provider = ClientSecretTokenProvider("tenant", "client", "secret")
    provider._app = FakeMsalApp(
        {"error": "invalid_client", "error_description": "AADSTS7000222: secret expired"}
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(errors.AuthenticationFailed) as info:
            await provider.token(session)
    assert "7000222" in info.value.message


async def test_managed_identity_uses_msal_client_lazily() -> None:
    provider = ManagedIdentityTokenProvider("mi-client-id")
    assert provider._client is None
    fake = FakeMsalApp({"access_token": "mi"}, kind="managed_identity")
    provider._client = fake
    async with aiohttp.ClientSession() as session:
        assert await provider.token(session) == "mi"
    assert fake.calls == [{"scopes": None, "resource": GRAPH_AUDIENCE}]


async def test_the_fake_refuses_a_token_for_another_resource() -> None:
    # The double must fail a wrong request, or the tests above could not catch one.
    fake = FakeMsalApp({"access_token": "t"}, kind="managed_identity")
    assert "error" in fake.acquire_token_for_client(resource="https://management.azure.com")
    confidential = FakeMsalApp({"access_token": "t"})
    assert "error" in confidential.acquire_token_for_client(
        scopes=["https://management.azure.com/.default"]
    )
    assert "error" not in confidential.acquire_token_for_client(scopes=[GRAPH_DEFAULT_SCOPE])


def test_certificate_credential_from_pem(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mamoru")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "app.pem"
    path.write_bytes(pem)
    cred = certificate_credential(path)
    assert cred["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex()
    assert "BEGIN CERTIFICATE" in cred["public_certificate"]
    assert certificate_credential(tmp_path / "app.pfx", "pw") == {
        "private_key_pfx_path": str(tmp_path / "app.pfx"),
        "passphrase": "pw",
    }


async def test_client_credentials_token_is_cached(sandbox: RunningSandbox) -> None:
    provider = ClientCredentialsTokenProvider(sandbox.token_url, CLIENT_ID, SECRET)
    async with aiohttp.ClientSession() as session:
        first = await provider.token(session)
        assert await provider.token(session) == first
        provider.invalidate()
        await provider.token(session)
    token_calls = [r for r in sandbox.sandbox.tenant.requests if "token" in r.path]
    assert token_calls == []  # the token endpoint is not a Graph call: not recorded
    claims = sandbox.sandbox.authenticate(f"Bearer {first}")
    assert claims.client_id == CLIENT_ID
