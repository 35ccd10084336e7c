"""Understanding a staff member's free text: an exact command, a playbook, or triage.

Typed commands (``help``, ``報告``, ``自分の案件``, ``setup``) and playbook names
are recognised exactly, before anything else. Everything else goes through the
classifier port and the triage policy of ``bot.domain.triage``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.playbooks import Playbook, PlaybookLibrary
from bot.domain.triage import Classifier, Route, Triage, TriagePolicy, Verdict, decide

_SPACES = re.compile(r"\s+")
# Control and format characters (C0/C1, zero-width, bidi marks) and lone surrogates
# (a broken client may send them; Sudachi cannot encode them): never meaningful here.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)


class Command(StrEnum):
    """Typed commands understood in both languages."""

    HELP = "help"
    MENU = "menu"
    REPORT = "report"
    MY_INCIDENTS = "my-incidents"
    SETUP = "setup"
    CASES = "cases"  # managers: the open cases of their departments
    FIGURES = "figures"  # managers: the organisation's figures (集計)


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
    "集計": Command.FIGURES,
    "統計": Command.FIGURES,
    "figures": Command.FIGURES,
    "setup": Command.SETUP,
    "セットアップ": Command.SETUP,
}


def normalize(text: str, max_chars: int) -> str:
    """NFKC-fold, lower-case and collapse spaces, reading at most ``max_chars`` characters.

    NFKC makes full-width Latin and half-width kana comparable with the names;
    control characters become spaces.
    """
    folded = unicodedata.normalize("NFKC", _CONTROL.sub(" ", text[:max_chars]))
    return _SPACES.sub(" ", folded).strip().lower()


@dataclass(frozen=True, slots=True)
class Match:
    """What the matcher understood from one message."""

    playbook: Playbook | None  # the playbook to open, if any
    confidence: float  # of the best route, in [0, 1]; never shown to staff
    best_id: str | None  # the best route, even when not chosen
    command: Command | None = None
    verdict: Verdict = Verdict.ROUTE
    model_id: str = ""  # the classifier that decided ("" for exact commands and names)

    @property
    def asks_back(self) -> bool:
        """Whether Mamoru should ask which situation is closest."""
        return self.verdict is Verdict.ASK


class Matcher:
    """Maps text to a command, a playbook or a triage verdict. Safe to share."""

    def __init__(
        self,
        library: PlaybookLibrary,
        classifier: Classifier,
        *,
        policy: TriagePolicy | None = None,
        max_chars: int = 4000,
    ) -> None:
        self._library = library
        self._classifier = classifier
        self._policy = policy or TriagePolicy()
        self._max_chars = max_chars
        self._names: dict[str, Playbook] = {}
        for p in library:
            for name in (p.id, p.title.ja, p.title.en, *p.aliases):
                self._names[normalize(name, max_chars)] = p

    @property
    def model_id(self) -> str:
        """The classifier's model id (stored with each incident's triage record)."""
        return self._classifier.model_id

    def triage(self, text: str) -> Triage:
        """The triage decision for ``text`` (read up to the length limit)."""
        return decide(self._classifier.predict(text[: self._max_chars]), self._policy)

    def match(self, text: str) -> Match:
        """The command, playbook or verdict ``text`` asks for."""
        normalized = normalize(text, self._max_chars)
        stripped = normalized.strip(" /!。.")
        if stripped in _COMMAND_WORDS:
            return Match(None, 1.0, None, command=_COMMAND_WORDS[stripped])
        if stripped in self._names:
            named = self._names[stripped]
            return Match(named, 1.0, named.id)
        triage = self.triage(text)
        playbook = None
        if triage.verdict is Verdict.ROUTE and triage.route is not None:
            playbook = self._library.get(triage.route.value)
        verdict = triage.verdict
        if triage.verdict is Verdict.ROUTE and playbook is None:
            verdict = Verdict.ASK  # a route whose playbook is not installed: ask instead
        return Match(
            playbook,
            triage.confidence,
            triage.route.value if triage.route else None,
            verdict=verdict,
            model_id=triage.model_id,
        )


__all__ = ["Command", "Match", "Matcher", "Route", "normalize"]
