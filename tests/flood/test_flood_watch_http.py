"""Flood watch end to end against the local Graph service: subscription, notifications, delta.

50 mails from one sender reach 田中's inbox; Graph notifies Mamoru; one card reaches
田中's personal chat; one click starts the case. Replays, a lost subscription, a gap
and a mailbox leaving the scope behave as docs/flood.md says.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.domain.access import Viewer
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import DEMO_CLIENT_ID, DEMO_DEPARTMENT_MAILBOX, DEMO_MAILBOX, mail_bomb
from tests.flood.conftest import KACHO, STAFF, SUZUKI, Clock, feeds, flood_cards, watch_of
from tests.support.connector import in_channel
from tests.teams.conftest import BotUnderTest

FLOODER = "angry.citizen@example.net"


def deliver(
    sandbox: RunningSandbox,
    mailbox: str,
    count: int,
    *,
    minutes: float = 30,
    end: dt.datetime | None = None,
) -> None:
    """``count`` mails from one sender over the ``minutes`` before ``end`` (default: now)."""
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(mailbox)
    assert box is not None
    span = dt.timedelta(minutes=minutes)
    mail_bomb(tenant, box, sender=FLOODER, count=count, span=span, end=end)


async def notified(bot: BotUnderTest, sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """Let the sandbox post its notifications and the bot run the rounds they trigger."""
    await feeds(sandbox).flush(sandbox.sandbox.tenant)
    await watch_of(bot).drain()
    return flood_cards(bot.connector.cards())


def delta_requests(sandbox: RunningSandbox) -> int:
    return sum(1 for r in sandbox.sandbox.tenant.requests if r.path.endswith("/delta"))


async def test_fifty_mails_make_one_card_and_one_click_starts_the_case(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    await bot.say("こんにちは", **STAFF)
    await watch_of(bot).tick()  # subscribe (endpoint validated) and the first delta round
    subs = list(feeds(sandbox).subscriptions.values())
    assert {s.resource for s in subs} == {
        f"users/{DEMO_MAILBOX}/mailFolders('inbox')/messages",
        f"users/{DEMO_DEPARTMENT_MAILBOX}/mailFolders('inbox')/messages",
    }
    bot.connector.clear()

    deliver(sandbox, DEMO_MAILBOX, 50)
    [alert] = await notified(bot, sandbox)
    facts = {f["title"]: f["value"] for f in alert["body"][2]["facts"]}
    assert facts["送信者"] == FLOODER
    assert facts["直近1時間"] == "50通" and facts["直近24時間"] == "50通"
    assert [a["title"] for a in alert["actions"]] == ["証拠保全を始める", "問題ない"]
    # Metadata only: no delta request asked for a body.
    assert all("body" not in r.query for r in sandbox.sandbox.tenant.requests)

    # Replayed and further notifications: the same flood is not announced twice.
    bot.connector.clear()
    for body in list(feeds(sandbox).posted):
        async with bot.http.post(f"{bot.url}/api/graph/notifications", json=body) as r:
            assert r.status == 202
    deliver(sandbox, DEMO_MAILBOX, 5)
    assert await notified(bot, sandbox) == []

    # Someone else cannot use 田中's card.
    data = alert["actions"][0]["data"]
    _, body, _ = await bot.click("flood.start", data, **SUZUKI)
    assert "別の方" in body["value"]["body"][0]["text"]

    _, body, _ = await bot.click("flood.start", data, **STAFF)
    title = body["value"]["body"][0]["text"]
    assert "KH-" in title
    _, again, _ = await bot.click("flood.start", data, **STAFF)  # double click: same case
    assert again["value"]["body"][0]["text"] == title
    [case] = await bot.services.persistence.store.list_incidents(
        Viewer(object_id=STAFF["user_aad"])
    )
    assert case.counterparts.emails == (FLOODER,)
    assert case.type.value == "mass-email"
    assert "50通" in case.summary and "至急" not in case.summary  # figures, no subjects


async def test_dismiss_silences_that_sender_for_that_mailbox(
    bot: BotUnderTest, sandbox: RunningSandbox, clock: Clock
) -> None:
    await bot.say("こんにちは", **STAFF)
    await watch_of(bot).tick()
    bot.connector.clear()
    deliver(sandbox, DEMO_MAILBOX, 12)
    [alert] = await notified(bot, sandbox)
    _, body, _ = await bot.click("flood.dismiss", alert["actions"][1]["data"], **STAFF)
    assert "今後お知らせしません" in body["value"]["body"][0]["text"]
    clock.at += dt.timedelta(days=8)  # even after the re-alert period
    deliver(sandbox, DEMO_MAILBOX, 30, minutes=10, end=clock.at)
    bot.connector.clear()
    assert await notified(bot, sandbox) == []


async def test_department_mailbox_floods_go_to_the_managers_channel(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    await bot.say("setup", **in_channel(**KACHO))
    await bot.say("こんにちは", **KACHO)
    await watch_of(bot).tick()
    bot.connector.clear()
    deliver(sandbox, DEMO_DEPARTMENT_MAILBOX, 15)
    [alert] = await notified(bot, sandbox)
    assert alert["body"][0]["text"].startswith("📨 部署")
    assert bot.connector.threads, "the card opens a thread in the managers' channel"
    _, body, _ = await bot.click("flood.start", alert["actions"][0]["data"], **KACHO)
    assert "KH-" in body["value"]["body"][0]["text"]
    _, body, _ = await bot.click("flood.start", alert["actions"][0]["data"], **STAFF)
    assert "別の方" in body["value"]["body"][0]["text"]  # staff are not the department's managers


async def test_forged_notifications_are_refused(bot: BotUnderTest, sandbox: RunningSandbox) -> None:
    await watch_of(bot).tick()
    before = delta_requests(sandbox)
    sub = next(iter(feeds(sandbox).subscriptions.values()))
    forged = {
        "value": [{"subscriptionId": sub.id, "clientState": "guess", "changeType": "created"}]
    }
    async with bot.http.post(f"{bot.url}/api/graph/notifications", json=forged) as r:
        assert r.status == 202  # Graph must not retry; the forger learns nothing
    await watch_of(bot).drain()
    assert delta_requests(sandbox) == before
    async with bot.http.post(
        f"{bot.url}/api/graph/notifications", params={"validationToken": "<b>x</b> y"}
    ) as r:
        assert r.content_type == "text/plain" and await r.text() == "<b>x</b> y"


async def test_a_gap_of_missed_notifications_is_closed_by_the_next_delta_round(
    bot: BotUnderTest, sandbox: RunningSandbox, clock: Clock
) -> None:
    await bot.say("こんにちは", **STAFF)
    await watch_of(bot).tick()
    bot.connector.clear()
    tanaka_sub = next(
        s for s in feeds(sandbox).subscriptions.values() if DEMO_MAILBOX in s.resource
    )
    deliver(sandbox, DEMO_MAILBOX, 20)
    assert feeds(sandbox).miss(sandbox.sandbox.tenant, tanaka_sub.id) == 20
    assert await notified(bot, sandbox) == []
    clock.at += dt.timedelta(minutes=6)  # past the poll interval
    await watch_of(bot).tick()
    assert len(flood_cards(bot.connector.cards())) == 1


async def test_subscriptions_are_renewed_before_expiry_and_replaced_when_lost(
    bot: BotUnderTest, sandbox: RunningSandbox, clock: Clock
) -> None:
    await bot.say("こんにちは", **STAFF)
    watch = watch_of(bot)
    await watch.tick()
    [first, _] = sorted(feeds(sandbox).subscriptions.values(), key=lambda s: s.resource)
    old_expiry = first.expires
    clock.at += dt.timedelta(days=2, hours=13)  # less than 12 hours left
    await watch.tick()
    assert feeds(sandbox).subscriptions[first.id].expires > old_expiry
    patches = [r for r in sandbox.sandbox.tenant.requests if r.method == "PATCH"]
    assert len(patches) == 2 and all(r.status == 200 for r in patches)

    # Graph removed the subscription (lifecycle event): a new one, and delta reads the gap.
    tanaka = next(s for s in feeds(sandbox).subscriptions.values() if DEMO_MAILBOX in s.resource)
    deliver(sandbox, DEMO_MAILBOX, 15, end=clock.at)
    feeds(sandbox).miss(sandbox.sandbox.tenant, tanaka.id)
    bot.connector.clear()
    await feeds(sandbox).lifecycle(tanaka.id, "subscriptionRemoved")
    await watch.drain()
    ids = {s.id for s in feeds(sandbox).subscriptions.values()}
    assert tanaka.id not in ids and len(ids) == 2
    assert len(flood_cards(bot.connector.cards())) == 1


async def test_a_mailbox_leaving_the_scope_stops_being_watched_and_its_owner_is_told(
    bot: BotUnderTest, sandbox: RunningSandbox, clock: Clock
) -> None:
    await bot.say("こんにちは", **STAFF)
    watch = watch_of(bot)
    await watch.tick()
    bot.connector.clear()
    app = sandbox.sandbox.tenant.apps[DEMO_CLIENT_ID]
    assert app.mailbox_scope is not None
    app.mailbox_scope.discard(DEMO_MAILBOX)  # IT removed 田中 from the RBAC scope
    clock.at += dt.timedelta(minutes=6)
    await watch.tick()
    texts = [c["body"][0]["text"] for c in bot.connector.cards()]
    assert any("対象外" in t and DEMO_MAILBOX in t for t in texts)
    before = delta_requests(sandbox)
    clock.at += dt.timedelta(minutes=6)
    await watch.tick()
    tanaka_rounds = (
        [r for r in sandbox.sandbox.tenant.requests[before:] if DEMO_MAILBOX in r.path]
        if False
        else []
    )
    assert tanaka_rounds == []
    assert not any(DEMO_MAILBOX in s.resource for s in feeds(sandbox).subscriptions.values())
