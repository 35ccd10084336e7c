"""The bot over HTTP, as Teams uses it: messages in, cards out, buttons clicked."""

from __future__ import annotations

from typing import Any

import pytest

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


GROUP_CHAT = {"conversation_id": "19:lunch-group@thread.v2", "conversation_type": "groupChat"}
CHANNEL = {
    "conversation_id": "19:general@thread.tacv2;messageid=1",
    "conversation_type": "channel",
    "channelData": {"channel": {"id": "19:general@thread.tacv2"}, "team": {"id": "team-1"}},
}
# Every guidance button whose answer is a new card, with the words of that card.
FOLLOW_UPS = [
    ("manager.talk", {"playbook": "mass-email", "locale": "ja"}, "ひとりで対応しないでください"),
    ("playbook.scripts", {"playbook": "mass-email", "locale": "ja"}, "本件への回答は以上です。"),
    ("incident.report.open", {"playbook": "mass-email", "locale": "ja"}, "報告"),
]


def _in(sent: Any, where: dict[str, Any]) -> bool:
    return str(sent.conversation_id).startswith(where["conversation_id"].split(";")[0])


@pytest.mark.parametrize("where", [CHANNEL, GROUP_CHAT], ids=["channel", "group-chat"])
@pytest.mark.parametrize(("verb", "data", "words"), FOLLOW_UPS, ids=[f[0] for f in FOLLOW_UPS])
async def test_a_guidance_button_in_a_shared_conversation_answers_in_the_personal_chat(
    sample_bot: BotUnderTest, where: dict[str, Any], verb: str, data: dict[str, Any], words: str
) -> None:
    await sample_bot.say("こんにちは")  # she has a personal chat with Mamoru
    status, body, _ = await sample_bot.click(verb, data, **where)
    assert status == 200 and body["statusCode"] == 200
    # Nothing reaches the channel or group chat where colleagues would see she asked.
    assert not [s for s in sample_bot.connector.sent if _in(s, where)]
    personal = [s for s in sample_bot.connector.sent if s.conversation_id == "a:personal-staff-1"]
    assert len(personal) == 1 and words in _texts(personal[0].cards[0])
    # Her own view of the clicked card (an invoke answer only she sees) says where it went.
    assert "個人チャット" in _texts(body["value"])


@pytest.mark.parametrize("where", [CHANNEL, GROUP_CHAT], ids=["channel", "group-chat"])
async def test_without_a_personal_chat_the_follow_up_is_not_posted_but_explained(
    sample_bot: BotUnderTest, where: dict[str, Any]
) -> None:
    # She never wrote to Mamoru in a personal chat: Mamoru cannot reach her there.
    status, body, _ = await sample_bot.click(
        "manager.talk", {"playbook": "mass-email", "locale": "ja"}, **where
    )
    assert status == 200 and body["statusCode"] == 200
    assert sample_bot.connector.sent == []  # nothing anywhere, least of all in the channel
    assert "個人チャットを開いて" in _texts(body["value"])  # told only to her
    assert body["value"]["body"][0]["text"] == "テスト用：大量メール"  # the guidance stays


async def test_in_the_personal_chat_the_follow_up_arrives_below_the_card(
    sample_bot: BotUnderTest,
) -> None:
    _, body, cards = await sample_bot.click(
        "manager.talk", {"playbook": "mass-email", "locale": "ja"}
    )
    assert "ひとりで対応しないでください" in _texts(cards[0])
    assert "個人チャット" not in _texts(body["value"])  # no note where none is needed
