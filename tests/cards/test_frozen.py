"""Guidance cards are built once and shared: they must be read-only and send unchanged."""

from __future__ import annotations

import copy
import json

import pytest

from bot.app import build_guide
from bot.config import Settings
from bot.domain.locale import Locale
from bot.guidance.answer import Guide
from bot.teams.replies import card_activity
from cards.frozen import freeze
from cards.guidance import guidance_card


@pytest.fixture(scope="module")
def guide() -> Guide:
    return build_guide(Settings(_env_file=None))


def test_the_shared_parts_of_a_guidance_card_refuse_every_change(guide: Guide) -> None:
    playbook = guide.library.get("mass-email")
    assert playbook is not None
    card = guide.card_for(playbook, Locale.JA)
    title, details = card["body"][0], card["body"][-2]  # the title; the legal basis tap
    changes = [
        lambda: title.update(text="leak"),
        lambda: title.__setitem__("text", "leak"),
        lambda: title.pop("text"),
        lambda: details["actions"].append({"type": "Action.Submit", "title": "leak"}),
        lambda: details["actions"][0]["card"]["body"].insert(0, {"type": "TextBlock"}),
    ]
    for change in changes:
        with pytest.raises(TypeError, match="frozen card"):
            change()
    card["body"].insert(1, {"type": "TextBlock", "text": "a notice for this turn only"})
    # The next staff member gets exactly the card a fresh build gives.
    again = guide.card_for(playbook, Locale.JA)
    assert json.dumps(again, ensure_ascii=False) == json.dumps(
        guidance_card(playbook, Locale.JA), ensure_ascii=False
    )


def test_the_parts_are_built_once_per_playbook_and_locale_the_buttons_per_turn(
    guide: Guide,
) -> None:
    playbook = guide.library.get("sns-defamation")
    assert playbook is not None
    first, second = guide.card_for(playbook, Locale.JA), guide.card_for(playbook, Locale.JA)
    assert first["body"][0] is second["body"][0]  # shared
    assert first["body"] is not second["body"]  # each turn its own card and buttons
    english = guide.card_for(playbook, Locale.EN)
    assert english["body"][0]["text"] == playbook.title(Locale.EN)
    triaged = guide.answer("Xで実名を出されて悪口を書かれています", Locale.JA)
    buttons = [a for e in triaged.card["body"] if e["type"] == "ActionSet" for a in e["actions"]]
    assert all(b["data"]["triage"]["outcome"] == "sns-defamation" for b in buttons if "data" in b)


def test_a_frozen_card_is_its_own_copy_and_serialises_like_a_plain_one() -> None:
    plain = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "窓口"}], "n": [1, 2]}
    frozen = freeze(plain)
    assert copy.deepcopy(frozen) is frozen
    assert frozen == plain
    assert freeze({"n": (1, 2)}) == {"n": [1, 2]}
    for mode in ("json", "python"):
        sent = card_activity(frozen).model_dump(mode=mode, by_alias=True, exclude_none=True)
        assert sent == card_activity(plain).model_dump(mode=mode, by_alias=True, exclude_none=True)
        content = sent["attachments"][0]["content"]
        assert type(content) is dict and type(content["body"]) is list  # plain again
