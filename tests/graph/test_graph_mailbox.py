"""Mailbox operations against the sandbox: folders, rules, quoting, moves, MIME, mail, events."""

from __future__ import annotations

import hashlib

import pytest

from graph import errors
from graph.mailbox import GraphMailboxClient, sha256_hex
from graph.models import (
    DateTimeTimeZone,
    EmailAddress,
    Event,
    MessageRule,
    MessageRuleActions,
    MessageRulePredicates,
    Recipient,
)
from graph.sandbox import RunningSandbox
from tests.graph.helpers import MAILBOX, Sent, make_transport

EVIDENCE = ["カスハラ証拠保全", "CASE-1"]


def deliver(sandbox: RunningSandbox, sender: str, n: int = 1, mailbox: str = MAILBOX) -> list[str]:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(mailbox)
    assert box is not None
    return [
        tenant.deliver(box, from_address=sender, subject=f"s{i}", body="b").immutable_id
        for i in range(n)
    ]


async def collect(client: GraphMailboxClient, **kw: str) -> list[str]:
    return [m.id async for page in client.list_sender_messages(MAILBOX, **kw) for m in page]


def rule_for(folder_id: str, *, sender: str = "", domain: str = "") -> MessageRule:
    conditions = (
        MessageRulePredicates(
            from_addresses=[Recipient(email_address=EmailAddress(address=sender))]
        )
        if sender
        else MessageRulePredicates(sender_contains=["@" + domain])
    )
    return MessageRule(
        display_name="Mamoru CASE-1",
        conditions=conditions,
        actions=MessageRuleActions(
            move_to_folder=folder_id, mark_as_read=True, stop_processing_rules=True
        ),
    )


async def test_ensure_folder_path_is_idempotent(client: GraphMailboxClient) -> None:
    first = await client.ensure_folder_path(MAILBOX, EVIDENCE)
    again = await client.ensure_folder_path(MAILBOX, EVIDENCE)  # ErrorFolderExists → lookup
    assert first.id == again.id and first.display_name == "CASE-1"


async def test_folder_name_length_limit(client: GraphMailboxClient) -> None:
    ok = await client.ensure_folder_path(MAILBOX, ["x" * 255])
    assert ok.display_name == "x" * 255
    with pytest.raises(errors.InvalidValue):
        await client.ensure_folder_path(MAILBOX, ["x" * 256])


async def test_quoted_sender_is_found_and_injection_matches_nothing(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    wanted = deliver(sandbox, "o'brien+x@example.com", 3)
    deliver(sandbox, "someone@example.com", 2)
    assert sorted(await collect(client, sender="o'brien+x@example.com")) == sorted(wanted)
    assert await collect(client, sender="x' or 1 eq 1") == []
    assert await collect(client, sender="x') or (1 eq 1") == []


async def test_unicode_and_case_insensitive_sender(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    wanted = deliver(sandbox, "山田@例え.jp", 2)
    assert sorted(await collect(client, sender="山田@例え.JP")) == sorted(wanted)


async def test_domain_listing(sandbox: RunningSandbox, client: GraphMailboxClient) -> None:
    wanted = deliver(sandbox, "a@bad.example", 2) + deliver(sandbox, "b@bad.example", 1)
    deliver(sandbox, "c@notbad.example", 1)
    assert sorted(await collect(client, domain="bad.example")) == sorted(wanted)


async def test_orderby_needs_filter_order(client: GraphMailboxClient) -> None:
    path = f"/users/{MAILBOX}/messages"
    bad = {"$filter": "from/emailAddress/address eq 'a@b.c'", "$orderby": "receivedDateTime desc"}
    with pytest.raises(errors.InefficientFilter):
        await client.transport.get(path, mailbox=MAILBOX, params=bad)
    good = {
        "$filter": "receivedDateTime ge 2000-01-01T00:00:00Z and "
        "from/emailAddress/address eq 'a@b.c'",
        "$orderby": "receivedDateTime desc",
    }
    assert (await client.transport.get(path, mailbox=MAILBOX, params=good))["value"] == []


async def test_filter_syntax_error_is_bad_request(client: GraphMailboxClient) -> None:
    path = f"/users/{MAILBOX}/messages"
    for broken in ("from/emailAddress/address eq 'x' or 1 eq 1'", "subject eq", "nope eq 'a'"):
        with pytest.raises(errors.BadRequest):
            await client.transport.get(path, mailbox=MAILBOX, params={"$filter": broken})


async def test_move_keeps_immutable_id_and_mime_hash(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    (mid,) = deliver(sandbox, "x@example.net")
    folder = await client.ensure_folder_path(MAILBOX, EVIDENCE)
    moved = await client.move_message(MAILBOX, mid, folder.id)
    assert moved.id == mid and moved.parent_folder_id == folder.id
    mime = await client.get_mime(MAILBOX, mid)
    assert sha256_hex(mime) == hashlib.sha256(mime).hexdigest()
    assert b"Message-ID:" in mime


async def test_rest_ids_change_on_move_without_immutable_prefer(sandbox: RunningSandbox) -> None:
    (mid,) = deliver(sandbox, "x@example.net")
    t = make_transport(sandbox)
    token = await t._tokens.token(t.session)
    base, auth = sandbox.base_url + f"/users/{MAILBOX}", {"Authorization": f"Bearer {token}"}
    async with t.session.get(f"{base}/messages", headers=auth) as resp:
        rest_id = (await resp.json())["value"][0]["id"]
    assert rest_id != mid
    body = {"destinationId": "archive"}
    async with t.session.post(f"{base}/messages/{rest_id}/move", json=body, headers=auth) as resp:
        assert resp.status == 201
        new_id = (await resp.json())["id"]
    assert new_id not in {rest_id, mid}
    async with t.session.get(f"{base}/messages/{rest_id}", headers=auth) as resp:
        assert resp.status == 404  # the old REST id is gone after a move
    await t.aclose()


async def test_batch_move(sandbox: RunningSandbox, client: GraphMailboxClient) -> None:
    ids = deliver(sandbox, "x@example.net", 23)
    folder = await client.ensure_folder_path(MAILBOX, EVIDENCE)
    out = await client.move_messages(MAILBOX, ids, folder.id)
    assert all(not isinstance(v, errors.GraphError) and v.id == k for k, v in out.items())


async def test_rule_upsert_and_rule_applies_to_new_mail(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    folder = await client.ensure_folder_path(MAILBOX, EVIDENCE)
    await client.upsert_rule(MAILBOX, rule_for(folder.id, sender="bad@example.net"))
    await client.upsert_rule(MAILBOX, rule_for(folder.id, domain="example.net"))
    rules = await client.list_rules(MAILBOX)
    assert len(rules) == 1 and rules[0].conditions is not None
    assert rules[0].conditions.sender_contains == ["@example.net"]
    deliver(sandbox, "other@example.net")
    box = sandbox.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None
    (msg,) = box.messages.values()
    assert msg.folder_id == folder.id and msg.is_read


async def test_rules_quota(sandbox: RunningSandbox, client: GraphMailboxClient) -> None:
    sandbox.sandbox.limits.rules_quota_bytes = 200
    folder = await client.ensure_folder_path(MAILBOX, EVIDENCE)
    with pytest.raises(errors.QuotaExceeded) as info:
        await client.upsert_rule(MAILBOX, rule_for(folder.id, sender="bad@example.net"))
    assert "inbox rules" in info.value.hint


async def test_unknown_mailbox(client: GraphMailboxClient) -> None:
    with pytest.raises(errors.MailboxNotFound):
        await client.get_folder("nobody@city.example.jp", "inbox")


async def test_missing_permission_and_mailbox_scope(sandbox: RunningSandbox) -> None:
    tenant = sandbox.sandbox.tenant
    tenant.add_app("reader", "s", {"Mail.Read"})
    tenant.add_app("scoped", "s", {"Mail.ReadWrite", "MailboxSettings.ReadWrite"}, {MAILBOX})
    reader = GraphMailboxClient(make_transport(sandbox, client_id="reader", secret="s"))
    with pytest.raises(errors.AccessDenied):
        await reader.create_child_folder(MAILBOX, "inbox", "x")
    assert (await reader.get_folder(MAILBOX, "inbox")).display_name == "Inbox"
    scoped = GraphMailboxClient(make_transport(sandbox, client_id="scoped", secret="s"))
    await scoped.get_folder(MAILBOX, "inbox")
    with pytest.raises(errors.AccessDenied):
        await scoped.get_folder("suzuki@city.example.jp", "inbox")
    await reader.transport.aclose()
    await scoped.transport.aclose()


@pytest.mark.parametrize("state", [{"revoked": True}, {"secret_expired": True}])
async def test_revoked_or_expired_credentials(
    sandbox: RunningSandbox, state: dict[str, bool]
) -> None:
    app = sandbox.sandbox.tenant.apps["test-app"]
    for key, value in state.items():
        setattr(app, key, value)
    client = GraphMailboxClient(make_transport(sandbox))
    with pytest.raises(errors.AuthenticationFailed) as info:
        await client.get_folder(MAILBOX, "inbox")
    assert "AADSTS" in info.value.message and "secret" in info.value.hint
    await client.transport.aclose()


async def test_expired_token_is_renewed_once(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.limits.token_lifetime_seconds = -1  # every token is born expired
    client = GraphMailboxClient(make_transport(sandbox))
    with pytest.raises(errors.AuthenticationFailed):
        await client.get_folder(MAILBOX, "inbox")
    tokens = [r for r in sandbox.sandbox.tenant.requests if r.path.endswith("inbox")]
    assert len(tokens) == 2  # one retry with a fresh token, then a clear failure
    await client.transport.aclose()


async def test_send_mail_lands_in_sent_items_and_recipient_inbox(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    from graph.models import ItemBody, Message

    to = [Recipient(email_address=EmailAddress(address="suzuki@city.example.jp"))]
    await client.send_mail(
        MAILBOX, Message(subject="連絡", body=ItemBody(content="本文"), to_recipients=to)
    )
    tenant = sandbox.sandbox.tenant
    sender, target = tenant.mailbox(MAILBOX), tenant.mailbox("suzuki@city.example.jp")
    assert sender is not None and target is not None
    sent_folder = sender.folder("sentitems")
    assert sent_folder is not None
    assert [m.subject for m in sender.messages.values() if m.folder_id == sent_folder.id] == [
        "連絡"
    ]
    assert [m.subject for m in target.messages.values()] == ["連絡"]


async def test_send_mail_as_another_mailbox_is_refused_and_nothing_is_sent(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    from graph.models import ItemBody, Message

    to = [Recipient(email_address=EmailAddress(address="suzuki@city.example.jp"))]
    other = Recipient(email_address=EmailAddress(address="suzuki@city.example.jp"))
    for spoof in ({"from_": other}, {"sender": other}):
        mail = Message(subject="連絡", body=ItemBody(content="本文"), to_recipients=to, **spoof)
        with pytest.raises(errors.AccessDenied) as refused:
            await client.send_mail(MAILBOX, mail)
        assert refused.value.code == "ErrorSendAsDenied"
    target = sandbox.sandbox.tenant.mailbox("suzuki@city.example.jp")
    assert target is not None and not target.messages
    own = Recipient(email_address=EmailAddress(address=MAILBOX.upper()))
    await client.send_mail(
        MAILBOX, Message(subject="連絡", body=ItemBody(content="本文"), to_recipients=to, from_=own)
    )
    assert [m.subject for m in target.messages.values()] == ["連絡"]


async def test_event_transaction_id_deduplicates(client: GraphMailboxClient) -> None:
    event = Event(
        subject="面談",
        start=DateTimeTimeZone(date_time="2026-12-01T10:00:00", time_zone="Tokyo Standard Time"),
        end=DateTimeTimeZone(date_time="2026-12-01T11:00:00", time_zone="Tokyo Standard Time"),
        transaction_id="case-1-followup",
    )
    first = await client.create_event(MAILBOX, event)
    second = await client.create_event(MAILBOX, event)
    assert first.id == second.id
    with pytest.raises(ValueError):
        await client.create_event(MAILBOX, event.model_copy(update={"transaction_id": None}))


async def test_group_membership(sandbox: RunningSandbox, client: GraphMailboxClient) -> None:
    tenant = sandbox.sandbox.tenant
    (group_id,) = tenant.groups
    kacho = tenant.user("kacho@city.example.jp")
    tanaka = tenant.user(MAILBOX)
    assert kacho is not None and tanaka is not None
    members = await client.list_group_members(group_id)
    # GroupMember.Read.All alone: Graph shows members' ids, their other properties are null.
    assert [(m.id, m.user_principal_name) for m in members] == [(kacho.id, None)]
    assert await client.is_member(kacho.id, group_id)
    assert await client.is_member(kacho.id.upper(), group_id)  # GUIDs compare case-blind
    assert not await client.is_member(tanaka.id, group_id)
    assert not await client.is_member(kacho.id, "00000000-0000-0000-0000-000000000404")


async def test_membership_is_transitive_paged_and_cached(
    sandbox: RunningSandbox, sent: Sent
) -> None:
    tenant = sandbox.sandbox.tenant
    for n in range(250):
        tenant.add_user(f"staff{n}@city.example.jp", f"職員 {n}")
    inner = tenant.add_group("section chiefs", [f"staff{n}@city.example.jp" for n in range(250)])
    outer = tenant.add_group("all managers", ["kacho@city.example.jp", inner.id])
    client = GraphMailboxClient(make_transport(sandbox, sent), membership_ttl=60)
    last = tenant.user("staff249@city.example.jp")
    assert last is not None and await client.is_member(last.id, outer.id)  # nested, last page
    for n in range(0, 250, 50):
        staff = tenant.user(f"staff{n}@city.example.jp")
        assert staff is not None and await client.is_member(staff.id, outer.id)
    gets = [r for r in sent.items if "transitiveMembers" in r.url]
    assert len(gets) == 1  # one listing (one page of up to 999) serves every check for a minute
    assert "%24select=id" in gets[0].url or "$select=id" in gets[0].url
    await client.transport.aclose()


async def test_group_listings_page_like_graph(sandbox: RunningSandbox, sent: Sent) -> None:
    tenant = sandbox.sandbox.tenant
    for n in range(120):
        tenant.add_user(f"m{n}@city.example.jp", f"管理職 {n}")
    group = tenant.add_group("many", [f"m{n}@city.example.jp" for n in range(120)])
    transport = make_transport(sandbox, sent)
    pages = [
        page
        async for page in transport.iter_pages(
            f"/groups/{group.id}/transitiveMembers", params={"$select": "id", "$top": 50}
        )
    ]
    assert [len(p) for p in pages] == [50, 50, 20]
    assert all(set(m) <= {"@odata.type", "id"} for p in pages for m in p)
    assert "$skiptoken=" in sent.items[1].url or "%24skiptoken=" in sent.items[1].url
    with pytest.raises(errors.BadRequest):  # Graph's directory: 1..999
        await transport.get(f"/groups/{group.id}/members", params={"$top": 1000})
    await transport.aclose()


async def test_check_member_groups_needs_a_user_permission_too(
    sandbox: RunningSandbox, client: GraphMailboxClient
) -> None:
    # The call Mamoru used before: with GroupMember.Read.All only, Graph refuses it.
    (group_id,) = sandbox.sandbox.tenant.groups
    with pytest.raises(errors.AccessDenied):
        await client.transport.request(
            "POST", "/users/kacho@city.example.jp/checkMemberGroups", json={"groupIds": [group_id]}
        )


def test_client_has_no_destructive_method() -> None:
    names = {n.lower() for n in dir(GraphMailboxClient)}
    for word in ("delete", "forward", "redirect", "remove", "purge"):
        assert not [n for n in names if word in n]


@pytest.mark.parametrize("fault", ["503", "drop", "drop-after"])
async def test_rule_post_failure_never_makes_a_twin(
    sandbox: RunningSandbox, client: GraphMailboxClient, fault: str
) -> None:
    folder = await client.ensure_folder_path(MAILBOX, EVIDENCE)
    sandbox.sandbox.faults.update({"queue": [fault], "match": "messageRules", "retryAfter": 0.01})
    sandbox.sandbox.faults.queue.appendleft("")  # let the first listing through
    await client.upsert_rule(MAILBOX, rule_for(folder.id, sender="bad@example.net"))
    box = sandbox.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None and len(box.rules) == 1


@pytest.mark.parametrize("folder", ["deleteditems", "DeletedItems", "junkemail", "outbox"])
async def test_mail_is_never_moved_where_it_is_disposed_of(
    sandbox: RunningSandbox, client: GraphMailboxClient, sent: Sent, folder: str
) -> None:
    """Deleted Items and Junk are emptied by retention; no move or rule may lead there."""
    (mid,) = deliver(sandbox, "x@example.net")
    sent.items.clear()
    with pytest.raises(ValueError, match="never moves mail"):
        await client.move_message(MAILBOX, mid, folder)
    with pytest.raises(ValueError, match="never moves mail"):
        await client.move_messages(MAILBOX, [mid], folder)
    with pytest.raises(ValueError, match="never moves mail"):
        rule_for(folder, sender="x@example.net")
    assert not sent.items  # refused before anything was sent
    box = sandbox.sandbox.tenant.mailbox(MAILBOX)
    assert box is not None and box.messages[mid].folder_id == box.well_known["inbox"]
