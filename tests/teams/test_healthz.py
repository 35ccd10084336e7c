"""/healthz answers within 2 s, degraded, while a check (the database) does not answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.server import build_web_app
from bot.teams.hosting import build_hosting


async def test_healthz_is_degraded_not_hanging_while_the_database_waits(tmp_path: Path) -> None:
    settings = Settings(allow_anonymous=True, data_dir=tmp_path, _env_file=None)
    agent, adapter, auth = build_hosting(settings)

    async def database_stuck_behind_a_lock() -> tuple[bool, str]:
        await asyncio.sleep(60)
        return True, "never reached"

    async def playbooks() -> tuple[bool, str]:
        return True, "3 playbooks"

    app = build_web_app(
        agent, adapter, auth, {"database": database_stuck_behind_a_lock, "playbooks": playbooks}
    )
    async with TestClient(TestServer(app)) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await client.get("/healthz")
        elapsed = loop.time() - started
        body = await response.json()
    assert elapsed < 2.0
    assert (response.status, body["status"]) == (503, "degraded")
    assert body["checks"]["database"]["ok"] is False
    assert "no answer within" in body["checks"]["database"]["detail"]
    assert body["checks"]["playbooks"] == {"ok": True, "detail": "3 playbooks"}
