"""The stand-in connector refuses what the real one refuses: updates of unknown activities."""

from __future__ import annotations

import aiohttp

from tests.support.connector import start_connector


async def test_update_of_an_unknown_activity_is_refused_and_recorded() -> None:
    connector, server = await start_connector()
    base = str(server.make_url(""))
    try:
        async with aiohttp.ClientSession() as http:
            url = f"{base}/v3/conversations/a:personal/activities"
            async with http.post(url, json={"type": "message", "text": "card"}) as resp:
                posted = (await resp.json())["id"]
            async with http.put(f"{url}/{posted}", json={"type": "message"}) as resp:
                assert resp.status == 200
            async with http.put(f"{url}/someone-elses-message", json={"type": "message"}) as resp:
                assert resp.status == 404
            other = f"{base}/v3/conversations/b:personal/activities/{posted}"
            async with http.put(other, json={"type": "message"}) as resp:
                assert resp.status == 404  # an id is only known in its own conversation
    finally:
        await server.close()
    assert [(s.method, s.activity_id) for s in connector.sent] == [
        ("POST", posted),
        ("PUT", posted),
    ]
    assert connector.refused_updates == [
        ("a:personal", "someone-elses-message"),
        ("b:personal", posted),
    ]
