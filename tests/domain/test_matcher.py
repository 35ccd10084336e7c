"""The free-text matcher against the shipped playbooks and the labelled staff messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.matcher import Command, Matcher
from bot.domain.playbooks import PlaybookLibrary
from bot.playbooks import load_library

DATASET = Path(__file__).resolve().parents[1] / "data" / "staff_messages.yaml"
THRESHOLD = 0.5  # the default of Settings.match_threshold
MIN_IN_SCOPE_ACCURACY = 0.90


@pytest.fixture(scope="module")
def library() -> PlaybookLibrary:
    return load_library()


@pytest.fixture(scope="module")
def matcher(library: PlaybookLibrary) -> Matcher:
    return Matcher(library, threshold=THRESHOLD)


@pytest.fixture(scope="module")
def messages(library: PlaybookLibrary) -> list[dict[str, Any]]:
    data = yaml.safe_load(DATASET.read_text(encoding="utf-8"))["messages"]
    ids = {p.id for p in library}
    for item in data:
        assert set(item) == {"text", "lang", "expected"}, item
        assert item["lang"] in {"ja", "en"}, item
        assert item["expected"] is None or item["expected"] in ids, item
    return data


def test_the_dataset_is_large_and_varied(messages: list[dict[str, Any]]) -> None:
    assert len(messages) >= 90
    out_of_scope = [m for m in messages if m["expected"] is None]
    assert len(out_of_scope) >= 20
    japanese = sum(1 for m in messages if m["lang"] == "ja")
    assert 0.5 <= japanese / len(messages) <= 0.7
    assert {m["expected"] for m in messages} >= {
        "sns-defamation",
        "mass-email",
        "personal-fixation",
    }
    texts = [m["text"] for m in messages]
    assert len(texts) == len(set(texts)), "duplicate messages in the dataset"


def test_in_scope_messages_reach_the_right_playbook(
    matcher: Matcher, messages: list[dict[str, Any]]
) -> None:
    in_scope = [m for m in messages if m["expected"] is not None]
    misses = []
    for item in in_scope:
        match = matcher.match(item["text"])
        got = match.playbook.id if match.playbook else None
        if got != item["expected"]:
            misses.append(
                f"expected {item['expected']}, got {got} "
                f"({matcher.scores(item['text'])}): {item['text']}"
            )
    accuracy = 1 - len(misses) / len(in_scope)
    assert accuracy >= MIN_IN_SCOPE_ACCURACY, (
        f"top-1 accuracy {accuracy:.1%} < {MIN_IN_SCOPE_ACCURACY:.0%}; misclassified:\n"
        + "\n".join(misses)
    )


def test_out_of_scope_messages_never_open_a_playbook(
    matcher: Matcher, messages: list[dict[str, Any]]
) -> None:
    wrong = []
    for item in messages:
        if item["expected"] is not None:
            continue
        match = matcher.match(item["text"])
        if match.playbook is not None or match.confidence >= THRESHOLD:
            wrong.append(f"{match.best_id} at {match.confidence}: {item['text']}")
    assert not wrong, "out-of-scope messages mapped to a playbook:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("help", Command.HELP),
        ("HELP", Command.HELP),
        ("ヘルプ", Command.HELP),
        ("menu", Command.MENU),
        ("Menu", Command.MENU),
        ("メニュー", Command.MENU),
        ("ﾒﾆｭｰ", Command.MENU),  # half-width kana, folded by NFKC
        (" /help ", Command.HELP),
        ("案件一覧", Command.CASES),
        ("Cases", Command.CASES),
        ("自分の案件", Command.MY_INCIDENTS),
        ("my cases", Command.MY_INCIDENTS),
    ],
)
def test_typed_commands(matcher: Matcher, typed: str, command: Command) -> None:
    match = matcher.match(typed)
    assert match.command is command
    assert match.playbook is None
    assert match.confidence == 1.0


@pytest.mark.parametrize(
    ("typed", "playbook_id"),
    [
        ("sns", "sns-defamation"),
        ("SNS", "sns-defamation"),
        ("ＳＮＳ", "sns-defamation"),
        ("誹謗中傷", "sns-defamation"),
        ("sns-defamation", "sns-defamation"),
        ("mail", "mass-email"),
        ("Email", "mass-email"),
        ("メール", "mass-email"),
        ("大量メール", "mass-email"),
        ("つきまとい", "personal-fixation"),
        ("stalking", "personal-fixation"),
        ("personal-fixation", "personal-fixation"),
    ],
)
def test_playbook_aliases_open_the_playbook_with_full_confidence(
    matcher: Matcher, typed: str, playbook_id: str
) -> None:
    match = matcher.match(typed)
    assert match.playbook is not None
    assert match.playbook.id == playbook_id
    assert match.confidence == 1.0


def test_every_title_and_alias_opens_its_own_playbook(
    matcher: Matcher, library: PlaybookLibrary
) -> None:
    for playbook in library:
        for name in (playbook.id, playbook.title.ja, playbook.title.en, *playbook.aliases):
            match = matcher.match(name)
            assert match.playbook is not None, name
            assert match.playbook.id == playbook.id, name
            assert match.confidence == 1.0, name


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\t", "🙏", "😭😭😭", "🍙🍙🍙🍙🍙", "\u200b\u200d", "ｗｗｗ", "。。。", "‼️⁉️"],
)
def test_empty_or_emoji_only_text_gives_no_playbook(matcher: Matcher, text: str) -> None:
    match = matcher.match(text)
    assert match.playbook is None
    assert 0.0 <= match.confidence < THRESHOLD


def test_100_kb_of_text_gives_no_playbook_and_no_error(matcher: Matcher) -> None:
    filler = "あいうえおabcde 12345 " * 6000
    assert len(filler.encode("utf-8")) >= 100_000
    match = matcher.match(filler)
    assert match.playbook is None
    assert 0.0 <= match.confidence < THRESHOLD


def test_long_text_is_read_only_up_to_the_limit(library: PlaybookLibrary) -> None:
    matcher = Matcher(library, threshold=THRESHOLD, max_chars=100)
    text = "x" * 200 + " 誹謗中傷されています"
    assert matcher.match(text).playbook is None
    assert matcher.match("誹謗中傷されています " + "x" * 200).playbook is not None


def test_scores_are_in_range_for_every_playbook(matcher: Matcher, library: PlaybookLibrary) -> None:
    scores = matcher.scores("毎日大量のメールとXでの誹謗中傷、さらに外で待ってると言われた")
    assert set(scores) == {p.id for p in library}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
