"""The features the triage model reads: normalised words plus character n-grams.

Two views of the same text, so that each covers the other's blind spot:

- **Words**: SudachiPy (dictionary ``sudachidict-core``, installed from PyPI, no
  download at runtime) splits Japanese into morphemes and gives each its
  *normalised form*: inflections and spelling variants fold together
  (待ってた → 待つ, 打切る → 打ち切る, メール/メイル). Latin words come out
  lower-cased, so English is read word by word too.
  English words are also crudely stemmed (emails → email, posted → post), and
  neighbouring words form bigrams (名前+晒す, real+name), which carry the
  meaning that single words share with innocent text, and words two apart form
  skip-bigrams (名前_晒す across the particle in 名前を晒す, waiting_me), a little of
  who does what to whom that the bag of words loses.
- **Markers** of how the message is put: a question or how-to (ですか, どうすれば,
  how do I, should I), a negation, thanks or good news (ありがとう, 嬉しい, thank,
  nice). They separate "how do I end a call" and "a kind letter" from the reports
  that share their words.
- **Character n-grams** (1–4 characters) of the text with katakana folded to
  hiragana: robust to typos, unknown slang and kana-only writing (えっくす).

``FEATURE_VERSION`` is part of the model id: change it whenever the output of
``features`` changes, and retrain (``make triage``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import pairwise
from typing import Any

FEATURE_VERSION = "tfidf(words-sudachi-C-1-2-skip2,en-stem,markers)+tfidf(chars-1-4)/v4"

# Control and format characters (C0/C1, zero-width, bidi marks) and lone surrogates.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)
_SPACES = re.compile(r"\s+")
# Something a person wrote: a letter or a digit of any script (not only emoji/symbols).
_READABLE = re.compile(r"[^\W_]", re.UNICODE)
_KATAKANA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}  # ァ..ヶ → ぁ..ゖ
_SKIP_POS = {"補助記号", "空白"}
_LATIN_WORD = re.compile(r"[a-z]+")
# Crude English suffix stripping, longest first: enough to fold emails/emailed/emailing.
_SUFFIXES = ("ing", "ed", "es", "s")
CHAR_NGRAMS = (1, 2, 3, 4)  # punctuation and spaces carry no meaning as words
# How the message is put (read on the cleaned text): each adds one word feature.
_MARKERS = {
    "question": re.compile(
        r"\?|？|ですか|ますか|でしょうか|かな|べき|どう(すれば|したら|やって|対応)|方法|手順|ルール"
        r"|\b(how|should|who|where)\b|\bcan (we|i)\b|\bwhat (do|should|can)\b|\bis there\b"
    ),
    "negation": re.compile(r"ない|ません|なかった|\bnot\b|n't\b|\bnever\b|\bno\b"),
    "thanks": re.compile(
        r"ありがと|感謝|お礼|うれし|嬉し|よかった|良かった|助かりま"
        r"|\bthank|\b(kind|nice|great|happy|thrilled|glad|lovely)\b"
    ),
}
# Someone staff deal with at work, on the cleaned text or its hiragana fold (see
# ``Prediction.counterpart``). Colleagues and managers are not on it.
_COUNTERPART = re.compile(
    r"お?客(さん|様|さま)?|おきゃく|来庁者|来客|住民|市民の(方|人)|利用者|相談者|申請者|くれーまー"
    r"|(電話|でんわ|窓口|まどぐち)の(人|ひと|相手|あいて|男|女|方|かた)"
    r"|\b(customers?|callers?|visitors?|residents?|citizens?|applicants?|complainants?)\b"
)
# Sudachi refuses inputs above ~49 KB; Mamoru reads far less than that anyway.
READ_CHARS = 1200


def clean(text: str) -> str:
    """NFKC, lower-case, control characters removed, spaces collapsed, cut to ``READ_CHARS``."""
    folded = unicodedata.normalize("NFKC", _CONTROL.sub(" ", text[: READ_CHARS * 2]))
    return _SPACES.sub(" ", folded).strip().lower()[:READ_CHARS]


def readable(cleaned: str) -> bool:
    """Whether the text holds at least one letter or digit (emoji-only text does not)."""
    return _READABLE.search(cleaned) is not None


def mentions_counterpart(cleaned: str, folded: str) -> bool:
    """Whether the text names a customer, caller, visitor or resident (not a colleague)."""
    return _COUNTERPART.search(cleaned) is not None or _COUNTERPART.search(folded) is not None


def kana_folded(cleaned: str) -> str:
    """Katakana as hiragana, so エックス and えっくす share their n-grams."""
    return cleaned.translate(_KATAKANA)


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    # Imported lazily: loading the dictionary takes a moment and only triage needs it.
    from sudachipy import Dictionary, SplitMode

    # Only the fields read below: a smaller, faster tokenizer.
    return Dictionary(dict="core").tokenizer(mode=SplitMode.C, fields={"pos", "normalized_form"})


def words(cleaned: str) -> list[str]:
    """The normalised forms of the morphemes of ``cleaned`` (split mode C)."""
    if not cleaned:
        return []
    result = []
    for morpheme in _tokenizer().tokenize(cleaned):
        if morpheme.part_of_speech()[0] in _SKIP_POS:
            continue
        surface = morpheme.surface()
        # Sudachi's normalised form of an English word is katakana (posted → ポステッド):
        # keep Latin words as written, stemmed.
        form = surface if _LATIN_WORD.fullmatch(surface) else morpheme.normalized_form().lower()
        if form.strip():
            result.append(stem(form))
    return result


def stem(word: str) -> str:
    """An English word without its commonest inflection (Japanese forms pass unchanged)."""
    if not _LATIN_WORD.fullmatch(word) or len(word) <= 4:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def features(text: str) -> tuple[list[str], list[str]]:
    """The two feature groups of ``text``: ``w:`` normalised words and ``c:`` n-grams.

    Each group is weighted (tf-idf) and L2-normalised on its own, so a long run of
    n-grams cannot drown the few words that carry the meaning.
    """
    cleaned = clean(text)
    return features_of(cleaned, kana_folded(cleaned))


def features_of(cleaned: str, folded: str) -> tuple[list[str], list[str]]:
    """``features`` of text already cleaned and kana-folded (the bot has both at hand)."""
    tokens = words(cleaned)
    word_features = [f"w:{w}" for w in tokens]
    word_features += [f"w:{a}+{b}" for a, b in pairwise(tokens)]
    word_features += [f"w:{a}_{b}" for a, b in zip(tokens, tokens[2:], strict=False)]
    word_features += [f"w:<{name}>" for name, marker in _MARKERS.items() if marker.search(cleaned)]
    folded = folded.replace(" ", "_")
    char_features = [
        f"c:{folded[i : i + n]}" for n in CHAR_NGRAMS for i in range(len(folded) - n + 1)
    ]
    return word_features, char_features
