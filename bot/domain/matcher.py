"""Matching a staff member's free text to a playbook, with a confidence in [0, 1].

Each playbook lists weighted signals (regular expressions). A message's score
for a playbook is the noisy-OR of the weights of the signals it contains:
``1 - Π(1 - w)``. Independent clues reinforce each other, one weak clue stays
weak, and the score never exceeds 1. Below the threshold the bot shows the
menu instead of guessing. Typed commands (``help``, ``menu``, a playbook's id
or aliases) are recognised exactly, before any scoring.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.playbooks import Playbook, PlaybookLibrary

_SPACES = re.compile(r"\s+")


class Command(StrEnum):
    """Typed commands understood in both languages."""

    HELP = "help"
    MENU = "menu"
    REPORT = "report"
    MY_INCIDENTS = "my-incidents"
    SETUP = "setup"
    CASES = "cases"  # managers: the open cases of their departments


_COMMAND_WORDS: dict[str, Command] = {
    "help": Command.HELP,
    "?": Command.HELP,
    "ヘルプ": Command.HELP,
    "使い方": Command.HELP,
    "menu": Command.MENU,
    "メニュー": Command.MENU,
    "start": Command.MENU,
    "report": Command.REPORT,
    "通報": Command.REPORT,
    "報告": Command.REPORT,
    "相談を報告": Command.REPORT,
    "my incidents": Command.MY_INCIDENTS,
    "my cases": Command.MY_INCIDENTS,
    "自分の案件": Command.MY_INCIDENTS,
    "私の案件": Command.MY_INCIDENTS,
    "cases": Command.CASES,
    "case list": Command.CASES,
    "案件一覧": Command.CASES,
    "setup": Command.SETUP,
    "セットアップ": Command.SETUP,
}


def normalize(text: str, max_chars: int) -> str:
    """NFKC-fold, lower-case and collapse spaces, reading at most ``max_chars`` characters.

    NFKC makes full-width Latin and half-width kana comparable with the patterns.
    """
    folded = unicodedata.normalize("NFKC", text[:max_chars])
    return _SPACES.sub(" ", folded).strip().lower()


@dataclass(frozen=True, slots=True)
class Match:
    """What the matcher understood from one message."""

    playbook: Playbook | None  # set only when confident enough
    confidence: float  # of the best playbook, in [0, 1]
    best_id: str | None  # the best-scoring playbook, even below the threshold
    command: Command | None = None


class Matcher:
    """Maps text to a playbook or a command. Compiled once; safe to share."""

    def __init__(
        self, library: PlaybookLibrary, *, threshold: float, max_chars: int = 4000
    ) -> None:
        self._library = library
        self._threshold = threshold
        self._max_chars = max_chars
        self._signals = [
            (p, [(re.compile(s.pattern, re.IGNORECASE), s.weight) for s in p.signals])
            for p in library
        ]
        self._names: dict[str, Playbook] = {}
        for p in library:
            for name in (p.id, p.title.ja, p.title.en, *p.aliases):
                self._names[normalize(name, max_chars)] = p

    @property
    def threshold(self) -> float:
        """Confidence below which no playbook is chosen."""
        return self._threshold

    def scores(self, text: str) -> dict[str, float]:
        """Every playbook's score for ``text`` (noisy-OR of matched signal weights)."""
        normalized = normalize(text, self._max_chars)
        result: dict[str, float] = {}
        for playbook, signals in self._signals:
            miss = 1.0
            for pattern, weight in signals:
                if pattern.search(normalized):
                    miss *= 1.0 - weight
            result[playbook.id] = round(1.0 - miss, 4)
        return result

    def match(self, text: str) -> Match:
        """The playbook or command ``text`` asks for, with a confidence."""
        normalized = normalize(text, self._max_chars)
        stripped = normalized.strip(" /!。.")
        if stripped in _COMMAND_WORDS:
            return Match(None, 1.0, None, command=_COMMAND_WORDS[stripped])
        if stripped in self._names:
            named = self._names[stripped]
            return Match(named, 1.0, named.id)
        scores = self.scores(text)
        if not scores:
            return Match(None, 0.0, None)
        best_id = max(scores, key=lambda k: scores[k])
        confidence = scores[best_id]
        chosen = self._library.get(best_id) if confidence >= self._threshold else None
        return Match(chosen, confidence, best_id if confidence > 0 else None)
