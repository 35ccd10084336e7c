"""Token providers for Microsoft Graph (application permissions, client credentials).

msal is synchronous and keeps its token cache inside its application object, so
each provider owns exactly one msal application (create one provider per
process) and calls it through ``asyncio.to_thread`` to keep the event loop free.

``ClientCredentialsTokenProvider`` speaks the same OAuth2 client-credentials
form to any token URL over aiohttp. It exists for the local Graph sandbox: msal
refuses any authority that is not ``https://`` (``msal.authority.canonicalize``),
and the sandbox serves plain HTTP on 127.0.0.1. The sandbox's endpoint has the
Entra v2 shape (``/{tenant}/oauth2/v2.0/token``), so the wire exchange is the same.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from graph.errors import AuthenticationFailed, ServiceUnavailable, error_from_response

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_RESOURCE = "https://graph.microsoft.com"


class TokenProvider(Protocol):
    """Something that yields a bearer token for Graph."""

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A valid access token (cached until shortly before expiry)."""
        ...

    def invalidate(self) -> None:
        """Forget a cached token the server has refused."""
        ...


def _token_or_raise(result: dict[str, Any] | None) -> str:
    if result and "access_token" in result:
        return str(result["access_token"])
    result = result or {}
    # error_description carries AADSTS codes (e.g. 7000222 expired secret), never the secret.
    raise AuthenticationFailed(
        str(result.get("error_description") or result.get("error") or "no token"),
        code=str(result.get("error") or "invalid_client"),
        status=401,
    )


class _MsalConfidential:
    """Shared code of the secret and certificate providers."""

    def __init__(self, tenant_id: str, client_id: str, credential: Any, authority: str) -> None:
        self._client_id = client_id
        self._credential = credential
        self._authority = authority or f"https://login.microsoftonline.com/{tenant_id}"
        self._app: Any = None  # built on first use: msal's constructor already does HTTP
        self._lock = asyncio.Lock()

    def _acquire(self) -> dict[str, Any] | None:
        if self._app is None:
            import msal  # imported here: msal is heavy and the sandbox doesn't need it

            self._app = msal.ConfidentialClientApplication(
                self._client_id, client_credential=self._credential, authority=self._authority
            )
        result: dict[str, Any] | None = self._app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        return result

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A token from msal's cache, or a new one (off the event loop)."""
        async with self._lock:  # one msal call at a time; its cache serves the rest
            result = await asyncio.to_thread(self._acquire)
        return _token_or_raise(result)

    def invalidate(self) -> None:
        """msal refreshes by itself before expiry; a refused token needs new credentials."""


class ClientSecretTokenProvider(_MsalConfidential):
    """An Entra app registration with a client secret (``authority``: full URL with tenant)."""

    def __init__(
        self, tenant_id: str, client_id: str, client_secret: str, *, authority: str = ""
    ) -> None:
        super().__init__(tenant_id, client_id, client_secret, authority)


class CertificateTokenProvider(_MsalConfidential):
    """An Entra app registration with a certificate (PEM with key and cert, or PFX)."""

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        certificate_path: Path,
        *,
        password: str | None = None,
        authority: str = "",
    ) -> None:
        super().__init__(
            tenant_id, client_id, certificate_credential(certificate_path, password), authority
        )


def certificate_credential(path: Path, password: str | None = None) -> dict[str, Any]:
    """msal's client_credential for a certificate file (PFX, or PEM with key and cert)."""
    if path.suffix.lower() in {".pfx", ".p12"}:
        cred: dict[str, Any] = {"private_key_pfx_path": str(path)}
        if password:
            cred["passphrase"] = password
        return cred
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    pem = path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    return {
        "private_key": pem.decode(),
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # what Entra calls the thumbprint
        "public_certificate": cert.public_bytes(_pem_encoding()).decode(),
        **({"passphrase": password} if password else {}),
    }


def _pem_encoding() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


class ManagedIdentityTokenProvider:
    """A user-assigned managed identity (Azure hosting, no secret to rotate)."""

    def __init__(self, client_id: str) -> None:
        self._client_id = client_id
        self._client: Any = None  # built on first use, inside a worker thread
        self._lock = asyncio.Lock()

    def _acquire(self) -> dict[str, Any] | None:
        if self._client is None:
            import msal
            import requests

            self._client = msal.ManagedIdentityClient(
                msal.UserAssignedManagedIdentity(client_id=self._client_id),
                http_client=requests.Session(),
            )
        result: dict[str, Any] | None = self._client.acquire_token_for_client(
            resource=GRAPH_RESOURCE
        )
        return result

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A token for Graph from the managed identity endpoint (msal caches it)."""
        async with self._lock:
            result = await asyncio.to_thread(self._acquire)
        return _token_or_raise(result)

    def invalidate(self) -> None:
        """msal refreshes managed identity tokens by itself."""


class ClientCredentialsTokenProvider:
    """OAuth2 client credentials over aiohttp, for the local Graph sandbox (plain HTTP)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self._url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": GRAPH_SCOPE,
        }
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def token(self, session: aiohttp.ClientSession) -> str:
        """The cached token, or a new one when it is within a minute of expiry."""
        async with self._lock:
            if self._token and time.monotonic() < self._expires:
                return self._token
            try:
                async with session.post(self._url, data=self._form) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status != 200:
                        raise error_from_response(resp.status, body, resp.headers)
            except aiohttp.ClientError as exc:
                raise ServiceUnavailable(
                    f"token endpoint unreachable: {type(exc).__name__}"
                ) from exc
            self._token = _token_or_raise(body)
            self._expires = time.monotonic() + float(body.get("expires_in", 3600)) - 60
            return self._token

    def invalidate(self) -> None:
        """Drop the cached token so the next call asks again."""
        self._token = ""
        self._expires = 0.0


class StaticTokenProvider:
    """A fixed token (tests, or a token obtained elsewhere)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self, session: aiohttp.ClientSession) -> str:
        """The fixed token."""
        return self._token

    def invalidate(self) -> None:
        """Nothing to forget."""
