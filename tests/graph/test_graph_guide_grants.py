"""Exactly the IT guide's grants: every request Mamoru makes is allowed, nothing more is.

The demo office's app is set up like deploy/README.md steps 4-5: Mail.ReadWrite,
MailboxSettings.ReadWrite, Mail.Send and Calendars.ReadWrite through Exchange RBAC for
Applications, scoped to the opted-in staff and the department mailbox; GroupMember.Read.All
by Entra consent. Every method of the Graph client runs against the local service with that
app; any 403 fails. Then, route by route, an app missing the route's permission is refused,
as Graph refuses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest

from graph import errors
from graph.mailbox import GraphMailboxClient
from graph.models import (
    Attendee,
    DateTimeTimeZone,
    EmailAddress,
    Event,
    ItemBody,
    Message,
    MessageRule,
    MessageRuleActions,
    MessageRulePredicates,
    Recipient,
)
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.routes_mail import router
from graph.sandbox.seed import (
    DEMO_ABUSER,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_OUTSIDE_MAILBOX,
    DEMO_ROLES,
    DEMO_SCOPE,
    DEMO_USER_IDS,
)
from graph.sandbox.service import Route
from graph.sandbox.state import is_exchange_role
from tests.graph.helpers import make_transport

# Every public coroutine of the client: a new one must be added to the walk below.
CLIENT_METHODS = {
    "get_folder",
    "find_child_folder",
    "create_child_folder",
    "ensure_folder_path",
    "list_rules",
    "upsert_rule",
    "list_sender_messages",
    "get_message",
    "move_message",
    "move_messages",
    "get_mime",
    "send_mail",
    "create_event",
    "list_group_members",
    "transitive_member_ids",
    "is_member",
}


@pytest.fixture
async def office() -> AsyncIterator[RunningSandbox]:
    tenant = Tenant()
    seed_demo(tenant, flood=30)
    running = await start_sandbox(make_sandbox(tenant))
    yield running
    await running.close()


def rule(folder_id: str) -> MessageRule:
    return MessageRule(
        display_name="Mamoru 証拠保全 KH-2026-0001",
        sequence=1,
        conditions=MessageRulePredicates(
            from_addresses=[Recipient(email_address=EmailAddress(address=DEMO_ABUSER))]
        ),
        actions=MessageRuleActions(
            move_to_folder=folder_id, mark_as_read=True, stop_processing_rules=True
        ),
    )


def test_the_walk_covers_every_client_method() -> None:
    public = {
        n
        for n in vars(GraphMailboxClient)
        if not n.startswith("_") and callable(getattr(GraphMailboxClient, n))
    }
    assert public == CLIENT_METHODS


async def test_every_request_mamoru_makes_is_allowed_by_the_guides_grants(
    office: RunningSandbox,
) -> None:
    client = GraphMailboxClient(
        make_transport(office, client_id=DEMO_CLIENT_ID, secret=DEMO_CLIENT_SECRET)
    )
    try:
        for box in (DEMO_MAILBOX, DEMO_DEPARTMENT_MAILBOX):  # protection: staff and department
            inbox = await client.get_folder(box, "inbox")
            folder = await client.ensure_folder_path(box, ["カスハラ証拠保全", "KH-2026-0001"])
            again = await client.ensure_folder_path(box, ["カスハラ証拠保全", "KH-2026-0001"])
            assert again.id == folder.id
            assert await client.find_child_folder(box, inbox.id, "カスハラ証拠保全") is not None
            await client.create_child_folder(box, folder.id, "sub")
            await client.upsert_rule(box, rule(folder.id))
            await client.upsert_rule(box, rule(folder.id))  # the PATCH path
            assert len(await client.list_rules(box)) == 1
            ids = [
                m.id
                async for page in client.list_sender_messages(box, sender=DEMO_ABUSER)
                for m in page
            ]
            domain = [
                m.id
                async for page in client.list_sender_messages(box, domain="example.net")
                for m in page
            ]
            assert ids and set(ids) <= set(domain)
            await client.get_message(box, ids[0])
            await client.move_message(box, ids[0], folder.id)
            moved = await client.move_messages(box, ids[1:5], folder.id)
            assert not [r for r in moved.values() if isinstance(r, errors.GraphError)]
            assert b"Message-ID:" in await client.get_mime(box, ids[0])
        # Notices go out from the department mailbox; the follow-up event lives there too.
        await client.send_mail(
            DEMO_DEPARTMENT_MAILBOX,
            Message(
                subject="お知らせ",
                body=ItemBody(content="本件については今後回答いたしません。"),
                to_recipients=[Recipient(email_address=EmailAddress(address=DEMO_ABUSER))],
            ),
        )
        start = dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)
        await client.create_event(
            DEMO_DEPARTMENT_MAILBOX,
            Event(
                subject="1on1 フォローアップ（KH-2026-0001）",
                start=DateTimeTimeZone(date_time=start.strftime("%Y-%m-%dT%H:%M:%S")),
                end=DateTimeTimeZone(
                    date_time=(start + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
                ),
                attendees=[Attendee(email_address=EmailAddress(address="kacho@city.example.jp"))],
                transaction_id="mamoru-KH-2026-0001-followup-1on1",
            ),
        )
        # Managers defined by a group.
        assert await client.is_member(
            DEMO_USER_IDS["kacho@city.example.jp"], DEMO_MANAGERS_GROUP_ID
        )
        assert not await client.is_member(DEMO_USER_IDS[DEMO_MAILBOX], DEMO_MANAGERS_GROUP_ID)
        assert await client.transitive_member_ids(DEMO_MANAGERS_GROUP_ID)
        assert await client.list_group_members(DEMO_MANAGERS_GROUP_ID)
    finally:
        await client.transport.aclose()
    statuses = {r.status for r in office.sandbox.tenant.requests}
    assert 403 not in statuses
    forbidden = [r for r in office.sandbox.tenant.requests if r.method == "DELETE"]
    assert not forbidden


def _permissions(route: Route) -> set[str]:
    return set(route.roles) | set(route.also)


def _path(route: Route) -> str:
    ids = {
        "user": DEMO_MAILBOX,
        "folder": "inbox",
        "id": "AAMkAGRvY3Rvcg==",
        "rule": "AQAAAnone",
        "group": DEMO_MANAGERS_GROUP_ID,
    }
    path = route.template
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.mark.parametrize(
    "route", [r for r in router.routes if r.roles], ids=lambda r: f"{r.method} {r.template}"
)
async def test_each_route_refuses_an_app_without_its_permission(
    office: RunningSandbox, route: Route
) -> None:
    # All the demo roles and more, minus every permission that would satisfy this route.
    everything = DEMO_ROLES | {
        "User.Read.All",
        "Group.Read.All",
        "Mail.Read",
        "Mail.ReadBasic.All",
        "MailboxSettings.Read",
        "Calendars.Read",
        "Calendars.ReadBasic",
    }
    wanting = everything - set(route.roles)  # checkMemberGroups: the Group role alone fails
    office.sandbox.tenant.add_app("lacking", "s", wanting, set(DEMO_SCOPE))
    assert not route.allows(wanting)
    status = await _call(office, route, "lacking", "s", DEMO_MAILBOX)
    assert status == 403, (
        f"{route.method} {route.template} answered {status} without {_permissions(route)}"
    )
    assert route.doc.startswith("https://learn.microsoft.com/graph/api/")


@pytest.mark.parametrize(
    "route",
    [r for r in router.routes if any(is_exchange_role(p) for p in r.roles)],
    ids=lambda r: f"{r.method} {r.template}",
)
async def test_mailbox_routes_refuse_a_mailbox_outside_the_scope(
    office: RunningSandbox, route: Route
) -> None:
    status = await _call(office, route, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_OUTSIDE_MAILBOX)
    assert status == 403
    managers = await _call(
        office, route, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, "kacho@city.example.jp"
    )
    assert managers == 403  # the guide never puts managers' mailboxes in the scope


async def test_rbac_grants_are_refused_until_they_propagate(office: RunningSandbox) -> None:
    app = office.sandbox.tenant.add_app(
        "new", "s", DEMO_ROLES, set(DEMO_SCOPE), propagation_seconds=3600
    )
    client = GraphMailboxClient(make_transport(office, client_id="new", secret="s"))
    try:
        with pytest.raises(errors.AccessDenied) as refused:
            await client.get_folder(DEMO_MAILBOX, "inbox")
        assert refused.value.mailbox_scoped and not errors.is_retryable(refused.value)
        # Entra grants are not delayed by Exchange: the managers' group is readable at once.
        assert await client.transitive_member_ids(DEMO_MANAGERS_GROUP_ID)
        app.rbac_ready_at = 0.0  # propagated
        assert (await client.get_folder(DEMO_MAILBOX, "inbox")).display_name == "Inbox"
    finally:
        await client.transport.aclose()


async def _call(
    office: RunningSandbox, route: Route, client_id: str, secret: str, user: str
) -> int:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    async with aiohttp.ClientSession() as http:
        async with http.post(office.token_url, data=form) as resp:
            token = (await resp.json())["access_token"]
        url = office.base_url + _path(route).replace(DEMO_MAILBOX, user)
        body = {} if route.method in {"POST", "PATCH"} else None
        async with http.request(
            route.method, url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            return resp.status
