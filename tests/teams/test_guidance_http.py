"""The bot over HTTP, as Teams uses it: messages in, cards out, buttons clicked."""

from __future__ import annotations

from typing import Any

from tests.teams.conftest import BotUnderTest


def _texts(card: dict[str, Any]) -> str:
    """All text a person sees on a card (body and shown-on-tap parts)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)


async def test_flood_message_gets_guidance_card_in_japanese(sample_bot: BotUnderTest) -> None:
    cards = await sample_bot.say("毎日大量のメールが届きます")
    assert len(cards) == 1
    assert cards[0]["body"][0]["text"] == "テスト用：大量メール"
    assert "メールを削除しない" in _texts(cards[0])
    assert "法務担当" in _texts(cards[0])  # the legal reminder


async def test_english_locale_gets_english_card(sample_bot: BotUnderTest) -> None:
    cards = await sample_bot.say("I get a flood of mail every day", locale="en-US")
    assert cards[0]["body"][0]["text"] == "Test: mail flood"


async def test_japanese_text_is_answered_in_japanese_even_with_english_teams(
    sample_bot: BotUnderTest,
) -> None:
    cards = await sample_bot.say("大量のメール", locale="en-US")
    assert cards[0]["body"][0]["text"] == "テスト用：大量メール"


async def test_unrelated_message_gets_one_friendly_line(sample_bot: BotUnderTest) -> None:
    cards = await sample_bot.say("会議室の予約はどうすればいいですか")
    text = _texts(cards[0])
    assert "お答えできません" not in text  # never a refusal
    assert "カスハラ" in text  # what Mamoru is for, in one line
    assert len(cards[0]["body"]) == 1


async def test_danger_gets_the_safety_route_even_without_its_playbook(
    sample_bot: BotUnderTest,
) -> None:
    """An office that removed the safety playbook still never answers a threat with a refusal."""
    cards = await sample_bot.say("殺すぞと言われました")
    text = _texts(cards[0])
    assert "どれに近いですか" in text
    assert "上司にすぐ知らせる" in text


async def test_empty_emoji_and_huge_texts_get_an_answer(sample_bot: BotUnderTest) -> None:
    for text in ("", "   ", "🙏😢🔥" * 50, "あ" * 100_000, "\u202e\u200b\ufeff"):
        cards = await sample_bot.say(text)
        assert len(cards) == 1, repr(text[:10])


async def test_typed_commands(sample_bot: BotUnderTest) -> None:
    for command in ("help", "メニュー", "ヘルプ", "menu"):
        cards = await sample_bot.say(command)
        assert cards[0]["body"][0]["text"] == "どのような状況ですか？"
    cards = await sample_bot.say("flood-test")
    assert cards[0]["body"][0]["text"] == "テスト用：大量メール"


async def test_show_scripts_keeps_guidance_and_sends_model_replies(
    sample_bot: BotUnderTest,
) -> None:
    status, body, cards = await sample_bot.click(
        "playbook.scripts", {"playbook": "mass-email", "locale": "ja"}
    )
    assert status == 200
    assert body["statusCode"] == 200
    assert body["value"]["body"][0]["text"] == "テスト用：大量メール"  # the card stays
    assert "本件への回答は以上です。" in _texts(cards[0])


async def test_menu_button_opens_playbook(sample_bot: BotUnderTest) -> None:
    status, body, _ = await sample_bot.click("playbook.show", {"playbook": "mass-email"})
    assert status == 200
    assert body["value"]["body"][0]["text"] == "テスト用：大量メール"


async def test_unknown_verb_gets_a_card_not_501(sample_bot: BotUnderTest) -> None:
    status, body, _ = await sample_bot.click("no.such.verb", {})
    assert status == 200
    assert "使えなくなりました" in _texts(body["value"])


async def test_forged_playbook_id_gets_bad_request_response(sample_bot: BotUnderTest) -> None:
    status, body, _ = await sample_bot.click("playbook.show", {"playbook": "../../etc/passwd"})
    assert status == 200
    assert body["statusCode"] == 400
    assert "does not know" in body["value"]["message"]
    # In Japanese first: a staff member with an old or broken card knows what to do.
    assert body["value"]["message"].startswith("カードが古い可能性があります")
    _, body, _ = await sample_bot.click(
        "playbook.show", {"playbook": "../../etc/passwd", "locale": "en"}
    )
    assert body["value"]["message"] == "This card refers to a situation Mamoru does not know."


async def test_malformed_invoke_values(sample_bot: BotUnderTest) -> None:
    from tests.support.connector import user_activity

    for value in (
        None,
        "text",
        {"action": "x"},
        {"action": {"type": "Action.Submit"}},
        {"action": {"type": "Action.Execute", "verb": "menu.show", "data": [1]}},
    ):
        activity = user_activity(sample_bot.connector_url)
        activity.update(type="invoke", name="adaptiveCard/action", value=value)
        response = await sample_bot.post(activity)
        assert response.status == 200, value


async def test_other_invokes_and_activity_types_never_500(sample_bot: BotUnderTest) -> None:
    from tests.support.connector import user_activity

    for kind, extra in (
        ("invoke", {"name": "composeExtension/query", "value": {}}),
        ("typing", {}),
        ("messageReaction", {"reactionsAdded": [{"type": "like"}]}),
        ("event", {"name": "something"}),
        ("installationUpdate", {"action": "add"}),
    ):
        activity = user_activity(sample_bot.connector_url)
        activity.update(type=kind, **extra)
        response = await sample_bot.post(activity)
        assert response.status in (200, 202), kind


async def test_malformed_http_bodies_get_400(sample_bot: BotUnderTest) -> None:
    async with sample_bot.http.post(
        f"{sample_bot.url}/api/messages",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    ) as r:
        assert r.status == 400
    async with sample_bot.http.post(f"{sample_bot.url}/api/messages", json=[1, 2]) as r:
        assert r.status == 400
    async with sample_bot.http.post(f"{sample_bot.url}/api/messages", json={"type": 5}) as r:
        assert r.status == 400


async def test_welcome_card_when_installed_in_personal_chat(sample_bot: BotUnderTest) -> None:
    from tests.support.connector import user_activity

    sample_bot.connector.clear()
    activity = user_activity(sample_bot.connector_url)
    activity.update(type="conversationUpdate", membersAdded=[{"id": "28:mamoru"}])
    await sample_bot.post(activity)
    assert sample_bot.connector.cards()[0]["body"][0]["text"] == "Mamoru（守る）へようこそ"


async def test_healthz(sample_bot: BotUnderTest) -> None:
    async with sample_bot.http.get(f"{sample_bot.url}/healthz") as r:
        body = await r.json()
    assert r.status == 200
    assert body["version"]
    assert body["checks"]["playbooks"]["ok"] is True
