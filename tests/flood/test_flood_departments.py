"""With departments configured, a case started from a person's flood card is their department's."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.domain.access import Role, Viewer
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import DEMO_DEPARTMENT_MAILBOX, DEMO_MAILBOX, DEMO_USER_IDS, mail_bomb
from tests.flood.conftest import KACHO, STAFF, feeds, flood_cards, watch_of
from tests.support.connector import in_channel
from tests.teams.conftest import BotUnderTest

SOMU_KACHO = {"user_aad": "aad-somu", "user_id": "29:somu", "user_name": "総務 課長"}


@pytest.fixture
def departments() -> str:
    return json.dumps(
        {
            "departments": [
                {"id": "somu", "name": "総務課", "managers": {"ids": ["aad-somu"]}},
                {
                    "id": "shimin",
                    "name": "市民相談課",
                    "managers": {"ids": [KACHO["user_aad"]]},
                    "staff": {"ids": [DEMO_USER_IDS[DEMO_MAILBOX]]},
                },
            ]
        },
        ensure_ascii=False,
    )


@pytest.fixture
def department_of_mailbox() -> str:
    return "shimin"  # the department mailbox is 市民相談課's


async def test_the_case_belongs_to_the_mailbox_owners_department(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    await bot.say("こんにちは", **STAFF)
    await watch_of(bot).tick()
    bot.connector.clear()
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(DEMO_MAILBOX)
    assert box is not None
    mail_bomb(tenant, box, sender="x@example.net", count=12, span=dt.timedelta(minutes=20))
    await feeds(sandbox).flush(tenant)
    await watch_of(bot).drain()
    [alert] = flood_cards(bot.connector.cards())
    _, body, _ = await bot.click("flood.start", alert["actions"][0]["data"], **STAFF)
    assert "KH-" in body["value"]["body"][0]["text"]
    [case] = await bot.services.persistence.store.list_incidents(
        Viewer(object_id=STAFF["user_aad"])
    )
    assert case.department == "shimin"


async def test_a_department_mailbox_alert_is_only_for_that_departments_managers(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    await bot.say("setup", **in_channel(**KACHO))
    await watch_of(bot).tick()
    bot.connector.clear()
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(DEMO_DEPARTMENT_MAILBOX)
    assert box is not None
    mail_bomb(tenant, box, sender="x@example.net", count=15, span=dt.timedelta(minutes=20))
    await feeds(sandbox).flush(tenant)
    await watch_of(bot).drain()
    [alert] = flood_cards(bot.connector.cards())
    start, dismiss = (a["data"] for a in alert["actions"])
    # 総務課's manager manages a department, but not this mailbox's: neither button is his.
    for verb, data in (("flood.start", start), ("flood.dismiss", dismiss)):
        _, body, _ = await bot.click(verb, data, **SOMU_KACHO)
        assert "別の方" in body["value"]["body"][0]["text"]
    store = bot.services.persistence.store
    assert not await store.list_incidents(Viewer(object_id="x", roles=frozenset({Role.LEGAL})))
    _, body, _ = await bot.click("flood.start", start, **KACHO)
    assert "KH-" in body["value"]["body"][0]["text"]  # not silenced: 市民相談課 starts the case
    [case] = await store.list_incidents(Viewer(object_id="x", roles=frozenset({Role.LEGAL})))
    assert case.department == "shimin"
