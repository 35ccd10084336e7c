"""Issue 6 in the Agents Playground: a staff member reports "named on X", then records the
post's URL and a screenshot; the case shows the evidence with its SHA-256.

The Playground (0.2.28) cannot attach or paste files in its chat box (a pasted image is
dropped; the bot gets the text only), and it serves no attachment URLs. Its "Mock an
Activity" feature (POST /_internal/v1/customActivities) forwards an activity unchanged,
so the screenshot is sent that way, inlined as a base64 ``data:`` URL, which Mamoru
decodes and checks without fetching anything. The mocked activity needs an ``id`` and a
``timestamp``: without them the Playground's connector answers the bot's reply with 400
BadArgument "Invalid input".
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import urllib.request
import uuid
from typing import Any

from playwright.sync_api import Page

from cards.elements import plain
from tests.e2e.conftest import Server
from tests.e2e.playground import (
    click_card_action,
    send_message,
    wait_for_bot_text,
    wait_for_card_text,
    wait_for_card_title,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
POST = "https://x.com/someone/status/1234567890"
REPORT = "インシデントを報告"  # cards/i18n/ja.py, action.report
SUBMIT = "報告する"  # report.submit
RECORD = "案件に記録する"  # sns.capture.submit


def _mock_activity(playground: Server, text: str, attachments: list[dict[str, Any]]) -> None:
    """Send a message as the Playground's current user, as its "Mock an Activity" does."""
    with urllib.request.urlopen(f"{playground.url}/_internal/v1/config") as response:
        config = json.load(response)["config"]
    user = config["currentUser"]
    activity = {
        "type": "message",
        "id": str(uuid.uuid4()),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "channelId": "msteams",
        "text": text,
        "from": {"id": user["id"], "name": user["name"], "aadObjectId": user["aadObjectId"]},
        "recipient": config["bot"],
        "conversation": {
            "id": config["personalChat"]["id"],
            "conversationType": "personal",
            "tenantId": config["tenantId"],
        },
        "serviceUrl": f"http://localhost:{playground.port}/_connector",
        "locale": "ja-JP",
        "attachments": attachments,
    }
    request = urllib.request.Request(
        f"{playground.url}/_internal/v1/customActivities",
        data=json.dumps(activity).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def test_staff_records_an_x_post_with_its_screenshot(page: Page, playground: Server) -> None:
    before = send_message(page, "Xで名指しされて写真をさらされました")
    guidance = wait_for_card_text(page, "SNSでの名指し・誹謗中傷", after=before)
    click_card_action(page, REPORT, card=guidance)
    form = wait_for_card_title(page, "インシデントを報告")
    form.locator("textarea").first.fill("Xで実名と写真を載せられ、拡散されている")
    click_card_action(page, SUBMIT, card=form)
    wait_for_card_text(page, "個人のアカウントから返信")  # protecting the person
    # The escalation's notice (no managers' channel in this test) arrives from a job; the
    # Playground re-renders the chat when it lands, which would wipe a half-filled form.
    wait_for_bot_text(page, "上司がまだ Mamoru を設定していない", timeout=30)

    inline = "data:image/png;base64," + base64.b64encode(PNG).decode()
    _mock_activity(playground, POST, [{"contentType": "image/png", "contentUrl": inline}])
    sha = hashlib.sha256(PNG).hexdigest()
    capture = wait_for_card_text(page, sha)
    capture.get_by_placeholder("@example").fill("@someone")
    click_card_action(page, RECORD, card=capture)
    result = wait_for_card_text(page, "に証拠を記録しました")
    shown = result.inner_text()
    assert sha in shown and plain(POST) in shown  # the URL as cards show user text: inert
