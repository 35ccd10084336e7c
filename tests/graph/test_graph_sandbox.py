"""The sandbox's own semantics over raw HTTP: tokens, error shapes, folders, rules, batch, admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from graph.sandbox import RunningSandbox, Tenant, seed_demo
from tests.graph.helpers import CLIENT_ID, MAILBOX, SECRET

IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


@pytest.fixture
async def http(sandbox: RunningSandbox) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """A raw session and a bearer header value for the test app."""
    async with aiohttp.ClientSession() as session:
        form = {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default",
        }
        async with session.post(sandbox.token_url, data=form) as resp:
            assert resp.status == 200
            token = (await resp.json())["access_token"]
        yield session, f"Bearer {token}"


async def call(
    http: tuple[aiohttp.ClientSession, str],
    sandbox: RunningSandbox,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    session, auth = http
    h = {"Authorization": auth, **IMMUTABLE, **(headers or {})}
    async with session.request(method, sandbox.base_url + path, json=body, headers=h) as resp:
        data = await resp.read()
        try:
            return resp.status, await resp.json(content_type=None) if data else None
        except ValueError:
            return resp.status, data


async def test_token_endpoint_errors(sandbox: RunningSandbox) -> None:
    async with aiohttp.ClientSession() as session:
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "no"}
        async with session.post(sandbox.token_url, data=form) as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
        other = sandbox.token_url.replace(sandbox.sandbox.tenant.tenant_id, "other-tenant")
        async with session.post(other, data=form) as resp:
            assert resp.status == 400
        tid = sandbox.sandbox.tenant.tenant_id
        url = f"{sandbox.root_url}/{tid}/v2.0/.well-known/openid-configuration"
        async with session.get(url) as resp:
            assert (await resp.json())["token_endpoint"] == sandbox.token_url
        async with session.get(sandbox.base_url + f"/users/{MAILBOX}/messages") as resp:
            assert resp.status == 401


async def test_error_bodies_are_graph_shaped(http: Any, sandbox: RunningSandbox) -> None:
    status, body = await call(http, sandbox, "GET", "/users/nobody@city.example.jp/messages")
    assert status == 404
    err = body["error"]
    assert err["code"] == "ErrorInvalidUser" and err["message"]
    assert {"request-id", "date"} <= set(err["innerError"])
    status, body = await call(http, sandbox, "GET", f"/users/{MAILBOX}/nonsense")
    assert status == 400 and body["error"]["code"] == "BadRequest"


async def test_well_known_folders(http: Any, sandbox: RunningSandbox) -> None:
    status, body = await call(http, sandbox, "GET", f"/users/{MAILBOX}/mailFolders?$top=50")
    names = {f["displayName"] for f in body["value"]}
    assert {"Inbox", "Archive", "Deleted Items", "Junk Email", "Sent Items", "Drafts"} <= names
    for name in ("inbox", "archive", "deleteditems", "junkemail", "sentitems", "drafts"):
        status, _ = await call(http, sandbox, "GET", f"/users/{MAILBOX}/mailFolders/{name}")
        assert status == 200


async def test_query_option_limits(http: Any, sandbox: RunningSandbox) -> None:
    base = f"/users/{MAILBOX}/messages"
    assert (await call(http, sandbox, "GET", base + "?$top=1000"))[0] == 200
    assert (await call(http, sandbox, "GET", base + "?$top=1001"))[0] == 400
    status, body = await call(http, sandbox, "GET", base + "?$select=nope")
    assert status == 400 and "nope" in body["error"]["message"]


async def test_forbidden_rule_is_accepted_recorded_and_not_executed(
    http: Any, sandbox: RunningSandbox
) -> None:
    rule = {
        "displayName": "user's own forward",
        "conditions": {"senderContains": ["example.net"]},
        "actions": {"forwardTo": [{"emailAddress": {"address": "x@evil.example"}}], "delete": True},
    }
    status, _ = await call(
        http, sandbox, "POST", f"/users/{MAILBOX}/mailFolders/inbox/messageRules", rule
    )
    assert status == 201  # as Graph would
    recorded = [r for r in sandbox.sandbox.tenant.requests if r.path.endswith("messageRules")]
    assert recorded[-1].body["actions"]["delete"] is True  # tests can see it was sent
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    msg = tenant.deliver(box, from_address="a@example.net", subject="s", body="b")
    inbox = box.folder("inbox")
    assert inbox is not None and msg.folder_id == inbox.id  # not deleted, not forwarded


async def test_delete_is_soft_and_recorded(http: Any, sandbox: RunningSandbox) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    msg = tenant.deliver(box, from_address="a@example.net", subject="s", body="b")
    status, _ = await call(http, sandbox, "DELETE", f"/users/{MAILBOX}/messages/{msg.immutable_id}")
    assert status == 204
    assert msg.folder_id == box.well_known["deleteditems"]
    assert [r.method for r in tenant.requests].count("DELETE") == 1


async def test_batch_envelope_rules(http: Any, sandbox: RunningSandbox) -> None:
    items = [
        {"id": str(i), "method": "GET", "url": f"/users/{MAILBOX}/mailFolders/inbox"}
        for i in range(21)
    ]
    assert (await call(http, sandbox, "POST", "/$batch", {"requests": items}))[0] == 400
    dup = [items[0], dict(items[1], id="0")]
    assert (await call(http, sandbox, "POST", "/$batch", {"requests": dup}))[0] == 400
    status, body = await call(http, sandbox, "POST", "/$batch", {"requests": items[:3]})
    assert status == 200 and [r["status"] for r in body["responses"]] == [200, 200, 200]


async def test_batch_items_follow_graphs_rules_for_bodies_and_dependencies(
    http: Any, sandbox: RunningSandbox
) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    msg = tenant.deliver(box, from_address="a@example.net", subject="s", body="b")
    move = {
        "id": "1",
        "method": "POST",
        "url": f"/users/{MAILBOX}/messages/{msg.immutable_id}/move",
        "body": {"destinationId": "archive"},
    }
    # A body without its own Content-Type header: Graph refuses the whole batch.
    status, body = await call(http, sandbox, "POST", "/$batch", {"requests": [move]})
    assert status == 400 and "Content-Type" in body["error"]["message"]
    assert msg.folder_id == box.well_known["inbox"]
    move["headers"] = {"Content-Type": "application/json", **IMMUTABLE}
    # dependsOn may only name another item of the same batch.
    unknown = dict(move, dependsOn=["9"])
    assert (await call(http, sandbox, "POST", "/$batch", {"requests": [unknown]}))[0] == 400
    # A request whose dependency failed is not run: 424 Failed Dependency.
    missing = {"id": "0", "method": "GET", "url": f"/users/{MAILBOX}/messages/nope"}
    status, body = await call(
        http, sandbox, "POST", "/$batch", {"requests": [missing, dict(move, dependsOn=["0"])]}
    )
    statuses = {r["id"]: r["status"] for r in body["responses"]}
    assert status == 200 and statuses == {"0": 404, "1": 424}
    assert msg.folder_id == box.well_known["inbox"]
    found = {"id": "0", "method": "GET", "url": f"/users/{MAILBOX}/messages/{msg.immutable_id}"}
    status, body = await call(
        http, sandbox, "POST", "/$batch", {"requests": [found, dict(move, dependsOn=["0"])]}
    )
    assert {r["id"]: r["status"] for r in body["responses"]} == {"0": 200, "1": 201}
    assert msg.folder_id == box.well_known["archive"]


async def test_missing_role_is_403(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.tenant.add_app("noroles", "s", set())
    async with aiohttp.ClientSession() as session:
        form = {"grant_type": "client_credentials", "client_id": "noroles", "client_secret": "s"}
        async with session.post(sandbox.token_url, data=form) as resp:
            token = (await resp.json())["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        async with session.get(sandbox.base_url + f"/users/{MAILBOX}/messages", headers=h) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "ErrorAccessDenied"


async def test_admin_mail_bomb_and_faults(sandbox: RunningSandbox) -> None:
    async with aiohttp.ClientSession() as session:
        bomb = {"mailbox": MAILBOX, "from": "bomb@example.net", "count": 50, "spanSeconds": 600}
        async with session.post(sandbox.root_url + "/_sandbox/deliver", json=bomb) as resp:
            assert (await resp.json())["delivered"] == 50
        async with session.post(
            sandbox.root_url + "/_sandbox/faults", json={"queue": ["503"]}
        ) as resp:
            assert (await resp.json())["queue"] == ["503"]
        async with session.get(sandbox.root_url + f"/_sandbox/mailboxes/{MAILBOX}") as resp:
            assert (await resp.json())["folders"]["Inbox"] == 50
    box = sandbox.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None
    times = sorted(m.received for m in box.messages.values())
    assert (times[-1] - times[0]).total_seconds() == pytest.approx(600 - 12, abs=2)


def test_demo_seed() -> None:
    tenant = Tenant()
    seed_demo(tenant)
    tanaka = tenant.mailbox("tanaka@city.example.jp")
    assert tanaka is not None
    flood = [m for m in tanaka.messages.values() if m.from_address == "kujou.claims@example.net"]
    assert len(flood) == 300 and len(tanaka.messages) > 300
    assert tenant.mailbox("shimin-soudan@city.example.jp") is not None
    (group,) = tenant.groups.values()
    assert len(group.member_ids) == 2
