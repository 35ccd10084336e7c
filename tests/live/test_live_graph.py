"""Every Graph request Mamoru makes, against a real tenant with the guide's grants.

Creates only what the bot would create, named for this run, and deletes nothing (Mamoru
has no way to): an evidence folder and a disabled rule in the test mailbox, one mail from
the department mailbox to itself, one event in the department calendar.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.doctor import Status
from bot.doctor.graph_access import check_graph
from graph import errors
from graph.mailbox import GraphMailboxClient
from graph.models import (
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
from tests.live.conftest import Live

NOBODY = "mamoru-live-check@invalid.example"


async def test_doctor_finds_nothing_wrong(live: Live) -> None:
    findings = await check_graph(live.settings, mailbox=live.mailbox, outside_mailbox=live.outside)
    assert [(f.name, f.what) for f in findings if f.status is Status.FAIL] == []


async def test_protection_calls(live: Live, client: GraphMailboxClient) -> None:
    folder = await client.ensure_folder_path(live.mailbox, ["Mamoru live check", live.run])
    again = await client.ensure_folder_path(live.mailbox, ["Mamoru live check", live.run])
    assert again.id == folder.id  # ErrorFolderExists was recognised, whatever its status
    rule = MessageRule(
        display_name=f"Mamoru live check {live.run}",
        sequence=1,
        is_enabled=False,
        conditions=MessageRulePredicates(
            from_addresses=[Recipient(email_address=EmailAddress(address=NOBODY))]
        ),
        actions=MessageRuleActions(move_to_folder=folder.id, stop_processing_rules=True),
    )
    await client.upsert_rule(live.mailbox, rule)
    await client.upsert_rule(live.mailbox, rule)  # PATCH
    names = [r.display_name for r in await client.list_rules(live.mailbox)]
    assert names.count(rule.display_name) == 1
    pages = client.list_sender_messages(live.mailbox, sender=NOBODY, page_size=10)
    assert [m async for page in pages for m in page] == []
    body = await client.transport.get(
        f"/users/{live.mailbox}/messages", mailbox=live.mailbox, params={"$top": 1, "$select": "id"}
    )
    if body.get("value"):
        first = body["value"][0]["id"]
        await client.get_message(live.mailbox, first)
        assert await client.get_mime(live.mailbox, first)
        moved = await client.move_message(live.mailbox, first, folder.id)
        assert moved.id == first  # immutable ids survive the move
        inbox = await client.get_folder(live.mailbox, "inbox")
        await client.move_message(live.mailbox, first, inbox.id)  # put it back


async def test_department_mail_and_follow_up_event(live: Live, client: GraphMailboxClient) -> None:
    await client.send_mail(
        live.department,
        Message(
            subject=f"Mamoru live check {live.run}",
            body=ItemBody(content="Mamoru の動作確認です。返信は不要です。"),
            to_recipients=[Recipient(email_address=EmailAddress(address=live.department))],
        ),
        save_to_sent=True,
    )
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    fmt = "%Y-%m-%dT%H:%M:%S"
    event = Event(
        subject=f"Mamoru live check {live.run}",
        start=DateTimeTimeZone(date_time=start.strftime(fmt)),
        end=DateTimeTimeZone(date_time=(start + dt.timedelta(minutes=30)).strftime(fmt)),
        transaction_id=f"mamoru-live-{live.run}",
    )
    first = await client.create_event(live.department, event)
    assert (await client.create_event(live.department, event)).id == first.id


async def test_managers_group(live: Live, client: GraphMailboxClient) -> None:
    group = live.settings.manager_group_id
    if not group:
        pytest.skip("managers are listed by id (MAMORU_MANAGER_IDS)")
    members = await client.transitive_member_ids(group)
    assert members, "the managers' group has no members"
    assert await client.is_member(next(iter(members)), group)


async def test_outside_the_scope_is_refused(live: Live, client: GraphMailboxClient) -> None:
    if not live.outside:
        pytest.skip("set MAMORU_LIVE_OUTSIDE_MAILBOX to a mailbox that did not opt in")
    with pytest.raises(errors.AccessDenied):
        await client.get_folder(live.outside, "inbox")
