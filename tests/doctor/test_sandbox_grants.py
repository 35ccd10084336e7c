"""The local Graph service tells Entra consent from Exchange RBAC for Applications grants."""

from __future__ import annotations

import aiohttp

from bot.doctor.graph_access import token_claims
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_OUTSIDE_MAILBOX,
    DEMO_OVERPRIVILEGED_CLIENT_ID,
    DEMO_OVERPRIVILEGED_CLIENT_SECRET,
    DEMO_ROLES,
    DEMO_USER_IDS,
)


async def _token(sandbox: RunningSandbox, client_id: str, secret: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    async with aiohttp.ClientSession() as http, http.post(sandbox.token_url, data=form) as resp:
        return str((await resp.json())["access_token"])


async def test_token_roles_carry_entra_grants_only(demo_graph: RunningSandbox) -> None:
    scoped = token_claims(await _token(demo_graph, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))
    assert scoped["roles"] == ["GroupMember.Read.All"]
    wide = await _token(
        demo_graph, DEMO_OVERPRIVILEGED_CLIENT_ID, DEMO_OVERPRIVILEGED_CLIENT_SECRET
    )
    assert set(token_claims(wide)["roles"]) == DEMO_ROLES


async def test_scope_limits_mail_not_directory_calls(demo_graph: RunningSandbox) -> None:
    token = await _token(demo_graph, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    headers = {"Authorization": f"Bearer {token}"}
    base = demo_graph.base_url + f"/users/{DEMO_OUTSIDE_MAILBOX}"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(base + "/mailFolders/inbox/messages") as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "ErrorAccessDenied"
        # An Entra call: RBAC for Applications does not limit it, GroupMember.Read.All allows it.
        group = f"{demo_graph.base_url}/groups/{DEMO_MANAGERS_GROUP_ID}/transitiveMembers"
        async with http.get(group + "?$select=id") as resp:
            assert resp.status == 200
            assert {m["id"] for m in (await resp.json())["value"]} == {
                DEMO_USER_IDS["kacho@city.example.jp"],
                DEMO_USER_IDS["bucho@city.example.jp"],
            }
        # checkMemberGroups on a user needs User.Read.All as well, which the guide does not grant.
        body = {"groupIds": [DEMO_MANAGERS_GROUP_ID]}
        async with http.post(base + "/checkMemberGroups", json=body) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "Authorization_RequestDenied"
