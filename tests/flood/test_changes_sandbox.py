"""The local Graph service's delta and subscriptions, through Mamoru's Graph client.

Real Graph semantics the watch relies on: rounds and paging, options carried by the
links, a lost state answering 410, metadata-only permission, refused subscriptions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from graph.changes import DeltaStateLost, GraphChangesClient
from graph.errors import AccessDenied, BadRequest, GraphError
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, start_sandbox
from graph.sandbox.routes_changes import feeds_of
from graph.transport import GraphTransport
from tests.graph.helpers import make_transport

MAILBOX = "tanaka@city.example.jp"
OUTSIDE = "hisho@city.example.jp"
BASIC = "basic-app"


@pytest.fixture
async def running() -> AsyncIterator[RunningSandbox]:
    tenant = Tenant()
    box = tenant.add_user(MAILBOX, "田中 花子")
    tenant.add_user(OUTSIDE, "秘書課")
    # Least privilege for watching: Mail.ReadBasic.All, scoped to one mailbox (RBAC).
    tenant.add_app(BASIC, "s", {"Mail.ReadBasic.All"}, {MAILBOX})
    tenant.add_app("no-mail", "s", {"User.Read.All"})
    for n in range(25):
        tenant.deliver(box, from_address=f"p{n % 3}@example.org", subject=f"s{n}", body="本文")
    sb = await start_sandbox(make_sandbox(tenant))
    yield sb
    feeds_of(tenant).subscriptions.clear()
    await sb.close()


def client(running: RunningSandbox, app: str = BASIC) -> GraphChangesClient:
    transport: GraphTransport = make_transport(running, client_id=app, secret="s")
    return GraphChangesClient(transport)


async def test_a_round_pages_then_ends_with_a_delta_link_and_the_next_round_has_only_new_mail(
    running: RunningSandbox,
) -> None:
    graph = client(running)
    pages = [p async for p in graph.inbox_delta(MAILBOX, delta_link=None)]
    assert sum(len(p.messages) for p in pages) == 25
    assert pages[-1].delta_link and all(p.delta_link is None for p in pages[:-1])
    assert {m.sender for p in pages for m in p.messages} == {
        "p0@example.org",
        "p1@example.org",
        "p2@example.org",
    }
    box = running.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None
    running.sandbox.tenant.deliver(box, from_address="new@example.net", subject="x", body="y")
    nxt = [p async for p in graph.inbox_delta(MAILBOX, delta_link=pages[-1].delta_link)]
    assert [m.sender for p in nxt for m in p.messages] == ["new@example.net"]
    # Only $select'ed metadata came back: no body, no preview.
    raw = await graph.transport.get(
        f"/users/{MAILBOX}/mailFolders/inbox/messages/delta",
        mailbox=MAILBOX,
        params={"$select": "from,receivedDateTime,subject", "$top": 5},
    )
    assert len(raw["value"]) == 5 and "$skiptoken" in raw["@odata.nextLink"]
    assert all("body" not in m and "bodyPreview" not in m for m in raw["value"])
    # A delta link may be used again: it stands for a state, not a single request.
    again = [p async for p in graph.inbox_delta(MAILBOX, delta_link=pages[-1].delta_link)]
    assert [m.sender for p in again for m in p.messages] == ["new@example.net"]
    # An unknown one is 410.
    unknown = str(pages[-1].delta_link).split("$deltatoken=")[0] + "$deltatoken=nope"
    with pytest.raises(DeltaStateLost):
        async for _ in graph.inbox_delta(MAILBOX, delta_link=unknown):
            pass
    await graph.transport.aclose()


async def test_a_delta_page_whose_answer_was_lost_is_asked_again_without_losing_the_round(
    running: RunningSandbox,
) -> None:
    graph = client(running)
    link = [p async for p in graph.inbox_delta(MAILBOX, delta_link=None)][-1].delta_link
    box = running.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None and link
    running.sandbox.tenant.deliver(box, from_address="new@example.net", subject="x", body="y")
    # The round's request is executed, then the connection drops: the transport asks again.
    running.sandbox.faults.update({"queue": ["drop-after"], "match": "delta"})
    pages = [p async for p in graph.inbox_delta(MAILBOX, delta_link=link)]
    assert [m.sender for p in pages for m in p.messages] == ["new@example.net"]
    tokens = [r for r in running.sandbox.tenant.requests if "deltatoken" in r.query]
    assert len(tokens) == 2  # the lost answer and the retry
    await graph.transport.aclose()


async def test_the_since_filter_and_unsupported_options(running: RunningSandbox) -> None:
    graph = client(running)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    pages = [p async for p in graph.inbox_delta(MAILBOX, delta_link=None, since=future)]
    assert [m for p in pages for m in p.messages] == []
    path = f"/users/{MAILBOX}/mailFolders/inbox/messages/delta"
    for params in (
        {"$filter": "from/emailAddress/address eq 'a'"},
        {"$orderby": "subject"},
        {"changeType": "moved"},
        {"$select": "noSuchProperty"},
    ):
        with pytest.raises(BadRequest):
            await graph.transport.get(path, mailbox=MAILBOX, params=params)
    await graph.transport.aclose()


async def test_permissions_and_scope(running: RunningSandbox) -> None:
    graph = client(running)
    with pytest.raises(AccessDenied):  # outside the RBAC scope
        async for _ in graph.inbox_delta(OUTSIDE, delta_link=None):
            pass
    other = client(running, "no-mail")
    with pytest.raises(AccessDenied):
        async for _ in other.inbox_delta(MAILBOX, delta_link=None):
            pass
    await graph.transport.aclose()
    await other.transport.aclose()


async def test_subscriptions_are_validated_limited_and_renewable(running: RunningSandbox) -> None:
    tokens: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        token = request.query.get("validationToken", "")
        tokens.append(token)
        return web.Response(text=token, content_type="text/plain")

    async def silent(_request: web.Request) -> web.Response:
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/ok", echo)
    app.router.add_post("/bad", silent)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    graph = client(running)
    now = dt.datetime.now(dt.UTC)
    common = {"lifecycle_url": f"{base}/ok", "client_state": "secret"}
    with pytest.raises(GraphError) as refused:
        await graph.subscribe_inbox(
            MAILBOX, notification_url=f"{base}/bad", expires_at=now + dt.timedelta(days=1), **common
        )
    assert refused.value.code == "ValidationError"
    with pytest.raises(GraphError):  # beyond 10,070 minutes
        await graph.subscribe_inbox(
            MAILBOX, notification_url=f"{base}/ok", expires_at=now + dt.timedelta(days=8), **common
        )
    with pytest.raises(AccessDenied):
        await graph.subscribe_inbox(
            OUTSIDE, notification_url=f"{base}/ok", expires_at=now + dt.timedelta(days=1), **common
        )
    with pytest.raises(GraphError):  # plain http to another host
        await graph.subscribe_inbox(
            MAILBOX,
            notification_url="http://example.com/hook",
            expires_at=now + dt.timedelta(days=1),
            **common,
        )
    sub = await graph.subscribe_inbox(
        MAILBOX, notification_url=f"{base}/ok", expires_at=now + dt.timedelta(days=1), **common
    )
    assert tokens and all(t.startswith("Validation") for t in tokens)
    renewed = await graph.renew(sub.id, now + dt.timedelta(days=3))
    assert renewed.expires_at > sub.expires_at
    feeds_of(running.sandbox.tenant).expire(sub.id)
    with pytest.raises(GraphError) as gone:
        await graph.renew(sub.id, now + dt.timedelta(days=3))
    assert gone.value.status == 404
    await graph.unsubscribe(sub.id)  # gone already: fine
    await graph.transport.aclose()
    await server.close()


async def test_notifications_carry_immutable_ids_only_for_subscriptions_created_asking_for_them(
    running: RunningSandbox,
) -> None:
    async def echo(request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        return (
            web.Response(text=token, content_type="text/plain")
            if token
            else web.Response(status=202)
        )

    app = web.Application()
    app.router.add_post("/hook", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    hook = str(server.make_url("/hook"))
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    graph = client(running)  # Mamoru's client: Prefer: IdType="ImmutableId" on every request
    ours = await graph.subscribe_inbox(
        MAILBOX, notification_url=hook, lifecycle_url=hook, client_state="c", expires_at=expires
    )
    # The same subscription created without the header, as another app might.
    async with aiohttp.ClientSession() as http:
        form = {"grant_type": "client_credentials", "client_id": BASIC, "client_secret": "s"}
        async with http.post(running.token_url, data=form) as resp:
            token = (await resp.json())["access_token"]
        body = {
            "changeType": "created",
            "notificationUrl": hook,
            "resource": f"users/{MAILBOX}/mailFolders('inbox')/messages",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{running.base_url}/subscriptions", json=body, headers=headers) as r:
            assert r.status == 201
            plain = (await r.json())["id"]
    tenant = running.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    msg = tenant.deliver(box, from_address="new@example.org", subject="x", body="y")
    feeds = feeds_of(tenant)
    assert await feeds.flush(tenant) == 2
    ids = {
        item["subscriptionId"]: item["resourceData"]["id"]
        for posted in feeds.posted
        for item in posted["value"]
    }
    assert ids == {ours.id: msg.immutable_id, plain: msg.rest_id}
    assert msg.rest_id != msg.immutable_id
    await graph.transport.aclose()
    await server.close()


async def test_mail_read_basic_sees_messages_without_their_bodies(running: RunningSandbox) -> None:
    graph = client(running)  # Mail.ReadBasic.All only
    t = graph.transport
    box = running.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None
    listed = await t.get(f"/users/{MAILBOX}/messages", mailbox=MAILBOX, params={"$top": 3})
    delta = await t.get(f"/users/{MAILBOX}/mailFolders/inbox/messages/delta", mailbox=MAILBOX)
    one = await t.get(f"/users/{MAILBOX}/messages/{listed['value'][0]['id']}", mailbox=MAILBOX)
    for message in [*listed["value"], *delta["value"], one]:
        assert message["subject"] and "from" in message
        assert "body" not in message and "bodyPreview" not in message
    with pytest.raises(AccessDenied):  # MIME is the whole message: Mail.Read at least
        await t.request(
            "GET", f"/users/{MAILBOX}/messages/{one['id']}/$value", mailbox=MAILBOX, raw=True
        )
    await t.aclose()
