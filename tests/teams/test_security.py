"""Only callers with a valid Bot Framework / Entra token reach ``/api/messages``.

The bot runs with a bot identity (client id, tenant, secret) exactly as in Azure.
Nothing in the SDK is patched: the test stands in for the Microsoft sign-in hosts
instead. It makes its own RSA signing key and a throw-away TLS certificate
authority, serves the signing keys (JWKS), the OpenID metadata and the token
endpoint as ``login.botframework.com`` / ``login.microsoftonline.com`` on
127.0.0.1, and points the process's HTTPS proxy and CA bundle environment
variables at them (urllib, used by the SDK's key client, and requests, used by
MSAL, both honour them). So the SDK's own code fetches the test's keys over
HTTPS, and the bot's replies get a token from the stand-in Entra.

The accepted-token tests show the rejections are real: the same bot, the same
keys, and only the one thing each negative test changes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.app import ConfigurationError, build_app
from bot.config import Settings
from tests.support.connector import user_activity
from tests.teams.conftest import FIXTURE_PLAYBOOKS, BotUnderTest, start_bot

APP_ID = "6f1d3a52-0c2e-4b8e-9a57-1b0c5f1e7d21"  # the bot's Entra app (client) id
TENANT_ID = "3c9d6e1a-7b42-4f0e-8d35-2a6b9c4e1f70"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
ENTRA_ISSUER = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
SIGN_IN_HOSTS = ("login.botframework.com", "login.microsoftonline.com")
KEY_ID = "mamoru-test-signing-key"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# One key pair per test run: the SDK caches fetched key sets per URI (class-level,
# 5 minutes) for the whole process, so the trusted key must not change between tests;
# another test module serving keys the same way must reuse these.
TRUSTED_KEY = _rsa_key()
ATTACKER_KEY = _rsa_key()


def _jwks() -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(TRUSTED_KEY.public_key()))
    jwk.update(kid=KEY_ID, use="sig", alg="RS256")
    return {"keys": [jwk]}


# --- a throw-away certificate authority and a certificate for the sign-in hosts


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """Write (CA certificate, server certificate, server key) PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key, server_key = _rsa_key(), _rsa_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mamoru test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SIGN_IN_HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(h) for h in SIGN_IN_HOSTS]
                + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


# --- the stand-in sign-in hosts and the HTTPS proxy that leads to them


@dataclass
class FakeSignIn:
    """Stand-in for login.botframework.com and login.microsoftonline.com."""

    ca_file: Path
    proxy_url: str = ""
    key_set_fetches: int = 0
    tokens_issued: int = 0
    refused_hosts: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        """The routes the SDK and MSAL call."""
        app = web.Application()
        app.router.add_get("/v1/.well-known/keys", self._keys)  # Bot Framework
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._keys)  # Entra
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._metadata)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        return app

    async def _keys(self, _request: web.Request) -> web.Response:
        self.key_set_fetches += 1
        return web.json_response(_jwks())

    async def _metadata(self, request: web.Request) -> web.Response:
        base = f"https://login.microsoftonline.com/{request.match_info['tenant']}"
        return web.json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
            }
        )

    async def _token(self, _request: web.Request) -> web.Response:
        self.tokens_issued += 1
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "access_token": "outgoing-test-token"}
        )

    async def tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An HTTP CONNECT proxy that only leads to the stand-in sign-in hosts."""
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in SIGN_IN_HOSTS or port != "443":
                self.refused_hosts.append(target)
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.tls_port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for w in (upstream, writer):
                if w is not None:
                    w.close()

    tls_port: int = 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


@pytest.fixture(scope="module")
def sign_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSignIn]:
    """The stand-in sign-in hosts, on their own event loop in a thread.

    Their own loop because MSAL and the SDK's key client are synchronous: MSAL
    even runs on the bot's event loop, which would otherwise wait for itself.
    """
    ca_file, cert_file, key_file = _certificates(tmp_path_factory.mktemp("sign-in"))
    fake = FakeSignIn(ca_file=ca_file)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(fake.app())
    servers: list[asyncio.Server] = []

    async def start() -> None:
        await runner.setup()
        tls_socket = socket.socket()
        tls_socket.bind(("127.0.0.1", 0))
        fake.tls_port = tls_socket.getsockname()[1]
        await web.SockSite(runner, tls_socket, ssl_context=tls).start()
        proxy = await asyncio.start_server(fake.tunnel, "127.0.0.1", 0)
        servers.append(proxy)
        fake.proxy_url = f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
        ready.set()

    async def stop() -> None:
        for server in servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the stand-in sign-in hosts did not start"
    yield fake
    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def sign_in_routed(sign_in: FakeSignIn, monkeypatch: pytest.MonkeyPatch) -> FakeSignIn:
    """HTTPS to the sign-in hosts goes to the stand-in, trusted through the test CA."""
    for name in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, sign_in.proxy_url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(sign_in.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return sign_in


@pytest.fixture
async def secured_bot(sign_in_routed: FakeSignIn, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    """The bot as deployed in Azure: a bot identity, anonymous requests not allowed."""
    settings = Settings(
        client_id=APP_ID,
        tenant_id=TENANT_ID,
        client_secret="test-client-secret",
        allow_anonymous=False,
        data_dir=tmp_path,
        playbooks_dir=FIXTURE_PLAYBOOKS,
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    async for running in start_bot(settings):
        yield running


# --- tokens


def _claims(issuer: str, service_url: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": APP_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "serviceurl": service_url,
        "jti": str(uuid.uuid4()),
    }
    if issuer == ENTRA_ISSUER:
        # As the Bot Service sends it: issued by the bot's tenant, for the bot.
        claims.update(tid=TENANT_ID, ver="2.0", azp=APP_ID)
    claims.update(overrides)
    return claims


def _token(claims: dict[str, Any], key: rsa.RSAPrivateKey = TRUSTED_KEY, kid: str = KEY_ID) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def _post(
    bot: BotUnderTest,
    authorization: str | None,
    *,
    tenant: str | None = TENANT_ID,
    service_url: str | None = None,
) -> int:
    """Send a staff message with this Authorization header; the HTTP status."""
    bot.connector.clear()
    activity = user_activity(service_url or bot.connector_url, text="毎日大量のメールが届きます")
    if tenant is None:
        del activity["conversation"]["tenantId"]
    else:
        activity["conversation"]["tenantId"] = tenant
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await bot.post(activity, **headers)
    return response.status


# --- accepted


@pytest.mark.parametrize("issuer", [BOT_FRAMEWORK_ISSUER, ENTRA_ISSUER])
async def test_valid_token_is_accepted_and_answered(
    secured_bot: BotUnderTest, sign_in_routed: FakeSignIn, issuer: str
) -> None:
    tokens_before = sign_in_routed.tokens_issued
    token = _token(_claims(issuer, secured_bot.connector_url))
    status = await _post(secured_bot, f"Bearer {token}")
    assert status in (200, 202)
    cards = secured_bot.connector.cards()
    assert [c["body"][0]["text"] for c in cards] == ["テスト用：大量メール"]
    # The keys came from the stand-in over HTTPS (the SDK caches them for the process),
    # and this bot got a token of its own for its reply: it answered with its identity.
    assert sign_in_routed.key_set_fetches >= 1
    assert sign_in_routed.tokens_issued > tokens_before
    assert sign_in_routed.refused_hosts == []


# --- refused


async def test_no_token_is_refused(secured_bot: BotUnderTest) -> None:
    assert await _post(secured_bot, None) == 401
    assert secured_bot.connector.sent == []


@pytest.mark.parametrize("kid", [KEY_ID, "some-other-key"])
async def test_token_signed_by_unknown_key_is_refused(secured_bot: BotUnderTest, kid: str) -> None:
    # With the trusted key's id (a forgery) and with an id the key set does not have.
    token = _token(_claims(BOT_FRAMEWORK_ISSUER, secured_bot.connector_url), ATTACKER_KEY, kid)
    assert await _post(secured_bot, f"Bearer {token}") == 401
    assert secured_bot.connector.sent == []


@pytest.mark.parametrize(
    "audience", ["00000000-0000-0000-0000-000000000000", "", "https://api.botframework.com"]
)
async def test_token_for_another_audience_is_refused(
    secured_bot: BotUnderTest, audience: str
) -> None:
    claims = _claims(BOT_FRAMEWORK_ISSUER, secured_bot.connector_url, aud=audience)
    assert await _post(secured_bot, f"Bearer {_token(claims)}") == 401
    assert secured_bot.connector.sent == []


async def test_expired_token_is_refused(secured_bot: BotUnderTest) -> None:
    now = int(time.time())
    # Beyond the validator's 5-minute clock-skew allowance.
    claims = _claims(
        BOT_FRAMEWORK_ISSUER,
        secured_bot.connector_url,
        iat=now - 7200,
        nbf=now - 7200,
        exp=now - 3600,
    )
    assert await _post(secured_bot, f"Bearer {_token(claims)}") == 401
    assert secured_bot.connector.sent == []


async def test_malformed_authorization_headers_are_refused(secured_bot: BotUnderTest) -> None:
    valid = _token(_claims(BOT_FRAMEWORK_ISSUER, secured_bot.connector_url))
    unsigned = jwt.encode(
        _claims(BOT_FRAMEWORK_ISSUER, secured_bot.connector_url), None, algorithm="none"
    )
    # Signed by the trusted key but naming no key: the SDK alone would answer 500.
    no_key_id = jwt.encode(
        _claims(BOT_FRAMEWORK_ISSUER, secured_bot.connector_url), TRUSTED_KEY, algorithm="RS256"
    )
    for header in (
        "",
        "Bearer",
        "Bearer ",
        f"Basic {valid}",
        f"Bearer {valid} extra",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        f"Bearer {valid[:-8]}",  # truncated signature
        f"Bearer {unsigned}",  # alg "none"
        f"Bearer {no_key_id}",
    ):
        assert await _post(secured_bot, header) == 401, header[:20]
        assert secured_bot.connector.sent == []


OTHER_TENANT_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


async def test_token_from_another_tenant_is_refused(secured_bot: BotUnderTest) -> None:
    # Signed by the (trusted) Entra keys, for this bot's audience, but issued by another
    # organisation's tenant: a multi-tenant check would let it in.
    claims = _claims(
        f"https://login.microsoftonline.com/{OTHER_TENANT_ID}/v2.0",
        secured_bot.connector_url,
        tid=OTHER_TENANT_ID,
        ver="2.0",
        azp=APP_ID,
    )
    assert await _post(secured_bot, f"Bearer {_token(claims)}", tenant=OTHER_TENANT_ID) == 401
    v1 = _claims(
        f"https://sts.windows.net/{OTHER_TENANT_ID}/",
        secured_bot.connector_url,
        tid=OTHER_TENANT_ID,
    )
    assert await _post(secured_bot, f"Bearer {_token(v1)}") == 401
    assert secured_bot.connector.sent == []


async def test_activity_from_another_tenant_is_refused(secured_bot: BotUnderTest) -> None:
    # A genuine Bot Framework token names no tenant: the conversation's tenant decides.
    token = _token(_claims(BOT_FRAMEWORK_ISSUER, secured_bot.connector_url))
    assert await _post(secured_bot, f"Bearer {token}", tenant=OTHER_TENANT_ID) == 403
    assert await _post(secured_bot, f"Bearer {token}", tenant=None) == 403
    assert secured_bot.connector.sent == []
    assert await _post(secured_bot, f"Bearer {token}", tenant=TENANT_ID.upper()) in (200, 202)


async def test_service_url_the_token_did_not_name_is_refused(
    secured_bot: BotUnderTest, sign_in_routed: FakeSignIn
) -> None:
    # The token names Teams' connector; the activity points the bot at another host (the
    # stand-in connector plays the attacker's): the bot must not send its token there.
    tokens_before = sign_in_routed.tokens_issued
    for issuer in (BOT_FRAMEWORK_ISSUER, ENTRA_ISSUER):
        claims = _claims(issuer, "https://smba.trafficmanager.net/jp/")
        assert await _post(secured_bot, f"Bearer {_token(claims)}") == 401
    assert secured_bot.connector.sent == []
    assert sign_in_routed.tokens_issued == tokens_before


async def test_service_url_outside_the_connector_hosts_is_refused(
    secured_bot: BotUnderTest, sign_in_routed: FakeSignIn
) -> None:
    # Even when the (valid) token names it: only Microsoft's connector hosts are served.
    tokens_before = sign_in_routed.tokens_issued
    for foreign in ("https://evil.example/", "http://smba.trafficmanager.net/jp/"):
        token = _token(_claims(BOT_FRAMEWORK_ISSUER, foreign))
        assert await _post(secured_bot, f"Bearer {token}", service_url=foreign) == 401, foreign
    assert sign_in_routed.tokens_issued == tokens_before
    assert sign_in_routed.refused_hosts == []


# --- startup and health


def test_anonymous_mode_is_refused_unless_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MAMORU_CLIENT_ID", "MAMORU_ALLOW_ANONYMOUS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        data_dir=tmp_path,
        playbooks_dir=FIXTURE_PLAYBOOKS,
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    with pytest.raises(ConfigurationError, match="MAMORU_ALLOW_ANONYMOUS"):
        build_app(settings)


async def test_healthz_needs_no_token(secured_bot: BotUnderTest) -> None:
    async with secured_bot.http.get(f"{secured_bot.url}/healthz") as r:
        body = await r.json()
    assert r.status == 200
    assert body["status"] == "ok"


@pytest.mark.parametrize(
    ("name", "value"), [("MAMORU_CLIENT_ID", APP_ID), ("WEBSITE_HOSTNAME", "app.azurewebsites.net")]
)
def test_anonymous_mode_with_an_identity_or_in_azure_does_not_start(
    tmp_path: Path, name: str, value: str
) -> None:
    # `mamoru serve` exits with an error instead of serving forged managers.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORU_")}
    env.pop("WEBSITE_HOSTNAME", None)
    env.update(
        MAMORU_ALLOW_ANONYMOUS="true",
        MAMORU_TENANT_ID=TENANT_ID,
        MAMORU_DATA_DIR=str(tmp_path),
        MAMORU_GRAPH_SANDBOX_EMBEDDED="false",
        MAMORU_PORT="1",  # never reached
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        **{name: value},
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "MAMORU_ALLOW_ANONYMOUS=false" in done.stderr + done.stdout
    assert f"{name} is set" in done.stderr + done.stdout
