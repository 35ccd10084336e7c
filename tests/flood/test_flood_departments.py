"""With departments configured, a case started from a person's flood card is their department's."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.domain.access import Viewer
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import DEMO_MAILBOX, DEMO_USER_IDS, mail_bomb
from tests.flood.conftest import KACHO, STAFF, feeds, flood_cards, watch_of
from tests.teams.conftest import BotUnderTest


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
