"""The triage classifier: reproducible from the corpus, safe on bad input, safety first."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.app import build_guide
from bot.config import Settings
from bot.domain.locale import Locale
from bot.domain.triage import Prediction, Route, TriagePolicy, Verdict, decide
from bot.guidance.answer import Guide
from bot.triage.danger import mentions_danger
from bot.triage.features import CHAR_NGRAMS, clean, features, kana_folded, mentions_counterpart
from bot.triage.model import LinearClassifier
from bot.triage.train import CORPUS_DIR, corpus_id, evaluate, fit, load_corpus


@pytest.fixture(scope="module")
def classifier() -> LinearClassifier:
    return LinearClassifier.load()


@pytest.fixture(scope="module")
def guide() -> Guide:
    return build_guide(Settings(_env_file=None))


def test_the_shipped_model_is_the_one_the_corpus_gives(classifier: LinearClassifier) -> None:
    """Edited the corpus or the features? Run `make triage` and commit bot/triage/model.npz."""
    assert classifier.model_id == corpus_id()
    assert set(classifier.labels) == {r.value for r in Route}


def test_the_corpus_is_large_varied_and_valid() -> None:
    examples = load_corpus()
    assert len(examples) >= 1500
    labels = {e.label for e in examples}
    assert labels == {r.value for r in Route}
    english = [e for e in examples if not any("\u3040" <= c <= "\u9fff" for c in e.text)]
    assert len(english) / len(examples) >= 0.2
    out_of_scope = [e for e in examples if e.label == Route.OUT_OF_SCOPE]
    assert len(out_of_scope) / len(examples) >= 0.25
    dev = [e for e in examples if e.is_dev]
    assert 0.15 <= len(dev) / len(examples) <= 0.25
    for path in CORPUS_DIR.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                assert set(json.loads(line)) == {"text", "label", "family"}, path.name


def test_training_is_deterministic() -> None:
    sample = load_corpus()[::10]
    first, second = fit(sample, "x"), fit(sample, "x")
    text = "窓口で土下座しろと言われた"
    assert np.array_equal(first.scores(text), second.scores(text))


def test_every_safety_message_of_the_dev_split_reaches_the_safety_card(
    classifier: LinearClassifier,
) -> None:
    dev = [e for e in load_corpus() if e.is_dev]
    report = evaluate(classifier, dev)
    assert report.safety_recall == 1.0, "\n".join(report.misses)
    # Floors, not the targets (docs/triage.md): a retrained model must not get worse.
    # (The dev split grew with harder messages; the model before them scores 14.4 % out
    # of scope → playbook and 0.797 general-first-response recall on it: docs/triage.md.)
    # (triage-9d62c8c2ad6d scores 12.2 % on today's split, the shipped model 9.8 %.)
    assert report.out_of_scope_to_playbook <= 0.10
    assert min(report.playbook_recall.values()) >= 0.86


@pytest.mark.parametrize(
    "text",
    [
        "殺すぞと言われました",
        "ｺﾛｽｿﾞって言われた",
        "たすけて",
        "もう限界です",
        "He pulled a knife on me",
        "刃物を持って窓口に来ています",
        "出口であの人が待ち伏せしています",
        "駐車場でまちぶせされてるかも",
        "駅からずっと後ろを歩いてくる",
        "窓口の人に後をつけられてる",
        "He followed me home from the office",
        "来庁者が職員の胸ぐらをつかんでいます",
        "窓口で腕をつかまれて離してもらえない",
        "ﾅｸﾞﾗﾚﾀ",
        "「夜道に気をつけな」って言われた",
        "疲れた、いなくなりたい",
        "A visitor grabbed my arm and won't let go",
        "He has a box cutter in his hand",
        "He threatened to burn the office down",
        "Someone broke into the back office, we're hiding",
        "「お前の家知ってるぞ」と言われた",
        "I know where you live, he said",
        "ハサミを振り回しています",
        "傘を振り上げて向かってきた",
        "ガソリンを撒くぞと電話で言われた",
        "お前の家燃やしてやる",
        "I can't see the point of anything since those calls started",
        "😡🔪",
        "🔪",
        "🔪\ufe0f",  # with the emoji variation selector, as phones send it
        "🆘",
        "help 🆘",
        "🔫",
        "🗡️",
        "窓口に🔪持った人",
    ],
)
def test_explicit_danger_phrases(text: str) -> None:
    assert mentions_danger(clean(text))


@pytest.mark.parametrize(
    "text",
    [
        "殺風景な窓口",
        "刃物の持ち込み禁止の貼り紙",
        "限界集落の資料",
        "Can you help me book a room?",
        "新しいサービスに名前をつけられますか",
        "気をつけて帰ってね",
        "The intern is following me around to learn the counter",
        "Please follow the project closely",
        "夜道に気をつけてね",
        "体力の限界です（笑）",
        "つかみかけた仕事",
        "I grabbed my coffee on the way in",
        "The intruder alarm test is at 3pm",
        "I broke into a sweat at the presentation",
        "the budget burn rate",
        "学校のことなら知ってるから聞いて",
        "はさみを貸してください",
        "傘をさして帰ります",
        "いすの配置替えで課長に振り回されてる",
        "ガソリン代の精算はどこに出す？",
        "ストーブの灯油、誰か持ってきてくれる？",
        "古い書類を燃やしていいですか",
        "I don't see the point of this meeting",
        "メール爆弾💣みたいに届く",  # a mail flood, not a bomb
        "🚨重要🚨 システム停止のお知らせ",
        "Xで炎上してる🔥",
        "😭😭😭🙏",
    ],
)
def test_innocent_texts_are_not_danger_phrases(text: str) -> None:
    assert not mentions_danger(clean(text))


def test_the_policy_puts_safety_first() -> None:
    def prediction(danger: bool = False, readable: bool = True, **p: float) -> Prediction:
        probabilities = {r.value: 0.0 for r in Route} | p
        return Prediction(probabilities, danger, readable, "m")

    policy = TriagePolicy()
    unsure = prediction(**{"mass-email": 0.6, "urgent-safety": 0.3})
    assert decide(unsure, policy).route is Route.URGENT_SAFETY
    danger = prediction(danger=True, **{"out-of-scope": 0.99})
    assert decide(danger, policy).route is Route.URGENT_SAFETY
    assert decide(prediction(**{"out-of-scope": 0.95}), policy).verdict is Verdict.UNRELATED
    assert decide(prediction(**{"out-of-scope": 0.6}), policy).verdict is Verdict.ASK
    flat = prediction(**{"mass-email": 0.2, "sns-defamation": 0.2, "out-of-scope": 0.2})
    assert decide(flat, policy).verdict is Verdict.ASK
    assert decide(prediction(readable=False), policy).verdict is Verdict.UNREADABLE
    # A message naming a customer is asked back, never given the friendly line.
    clear = {r.value: 0.0 for r in Route} | {"out-of-scope": 0.95}
    named = Prediction(clear, False, True, "m", counterpart=True)
    assert decide(named, policy).verdict is Verdict.ASK


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("お客さんのことで相談です", True),
        ("ｵｷｬｸｻﾏ対応で困ってます", True),
        ("来庁者の方がまだいます", True),
        ("電話の相手がずっと話してる", True),
        ("A caller keeps ringing back", True),
        ("上司に怒鳴られた", False),
        ("同僚とランチに行きます", False),
        ("The printer is jammed again", False),
    ],
)
def test_a_counterpart_is_noticed(text: str, named: bool) -> None:
    cleaned = clean(text)
    assert mentions_counterpart(cleaned, kana_folded(cleaned)) is named


HEADER_BLOCK = (
    "From: kujou.claims@example.net\r\nTo: tanaka@city.example.jp\r\n"
    "Subject: =?UTF-8?B?5YaN6YCB?=\r\nDate: Mon, 30 Nov 2026 09:00:00 +0900\r\n"
    "Message-ID: <abc@example.net>\r\n\r\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t",
        "😭😭😭🙏",
        "窓口で怒鳴られました。" * 1000,  # 10,000 characters
        "Xでｻﾗｻﾚた my name 実名 posted ＯＮ ｆｏｒｕｍ 😢",  # mixed scripts and widths
        HEADER_BLOCK,
        HEADER_BLOCK + "毎日このメールが100通届きます",
        "\x00\x01\x1b[31m\u202e\u200b電話で\x07怒鳴られた",
        "\ud800",  # a lone surrogate, as a broken client might send
    ],
)
def test_bad_input_gets_a_clear_answer(guide: Guide, text: str) -> None:
    answer = guide.answer(text, Locale.JA)
    assert answer.card["type"] == "AdaptiveCard"
    shown = json.dumps(answer.card, ensure_ascii=False)
    assert "お答えできません" not in shown


@pytest.mark.parametrize("text", ["😡🔪", "🔪", "🆘", "🔫", "help 🆘", "🆘🆘🆘"])
def test_a_danger_emoji_gets_the_safety_card_not_the_could_not_read_menu(
    guide: Guide, text: str
) -> None:
    answer = guide.answer(text, Locale.JA)
    assert (answer.verdict, answer.playbook_id) == ("route", "urgent-safety")
    assert "上司にすぐ知らせる" in json.dumps(answer.card, ensure_ascii=False)


def test_an_innocent_knife_emoji_gets_the_safety_card_too(guide: Guide) -> None:
    """Accepted: a kitchen-knife emoji in a chat about cooking class costs a glance at the
    safety card; telling 「🔪」 from 「料理教室の🔪」 is not worth missing one threat."""
    assert guide.answer("料理教室の🔪の絵文字", Locale.JA).playbook_id == "urgent-safety"


def test_features_read_a_bounded_amount() -> None:
    words, chars = features("あ" * 100_000)
    assert len(chars) <= len(CHAR_NGRAMS) * 1200
    assert len(words) <= 2 * 1200
    assert words
