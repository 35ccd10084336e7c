"""The demo office's people as Teams presents them to the bot (fixed ids in the sandbox seed).

Keyword arguments for ``tests.support.connector.user_activity`` / ``action_invoke``:
田中 花子 (staff, the mailbox that receives the mass mail) and the two managers, who
are members of the managers' Entra group.
"""

from __future__ import annotations

from graph.sandbox.seed import DEMO_MAILBOX, DEMO_USER_IDS

STAFF = {"user_aad": DEMO_USER_IDS[DEMO_MAILBOX], "user_id": "29:tanaka", "user_name": "田中 花子"}
KACHO = {
    "user_aad": DEMO_USER_IDS["kacho@city.example.jp"],
    "user_id": "29:kacho",
    "user_name": "高橋 課長",
}
BUCHO = {
    "user_aad": DEMO_USER_IDS["bucho@city.example.jp"],
    "user_id": "29:bucho",
    "user_name": "伊藤 部長",
}
