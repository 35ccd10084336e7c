"""Triage: which route a staff member's message needs, and how sure Mamoru must be.

The domain defines the routes, the classifier port and the decision policy; the
trained classifier itself (morphological analysis, n-grams, weights) lives in
``bot/triage`` and is wired in ``bot/app.py``.

The policy is asymmetric on purpose. Sending a frightened person to the wrong
card is far worse than asking one question back, and a threat of violence
routed anywhere but the safety card is the worst outcome of all: a modest
probability of ``urgent-safety``, or an explicit danger phrase, is enough.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Route(StrEnum):
    """Where a message can lead. Every route but ``out-of-scope`` is a playbook id."""

    MASS_EMAIL = "mass-email"
    PERSONAL_FIXATION = "personal-fixation"
    SNS_DEFAMATION = "sns-defamation"
    URGENT_SAFETY = "urgent-safety"
    GENERAL_FIRST_RESPONSE = "general-first-response"
    OUT_OF_SCOPE = "out-of-scope"


PLAYBOOK_ROUTES: tuple[Route, ...] = tuple(r for r in Route if r is not Route.OUT_OF_SCOPE)


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the classifier read in one message.

    ``probabilities`` has one entry per ``Route`` value and sums to 1. ``danger`` is
    set when an explicit danger phrase (a threat, a weapon, a cry for help) occurs.
    ``readable`` is False when the text holds nothing to read (only emoji, symbols).
    ``counterpart`` is set when the text names someone staff deal with (お客さん, 来庁者,
    電話の相手, caller, resident): such a message may be about harassment even when the
    model reads it as out of scope, so it is asked back, never given the friendly line.
    """

    probabilities: dict[str, float]
    danger: bool
    readable: bool
    model_id: str
    counterpart: bool = False

    def best(self) -> tuple[Route, float]:
        """The most probable route and its probability."""
        label = max(self.probabilities, key=lambda k: self.probabilities[k])
        return Route(label), self.probabilities[label]


class Classifier(Protocol):
    """Reads a message and gives each route a probability. Pure CPU, no I/O."""

    @property
    def model_id(self) -> str:
        """Identifies the trained model (a hash of its corpus and features)."""
        ...

    def predict(self, text: str) -> Prediction:
        """The probabilities for ``text`` (already cut to the length Mamoru reads)."""
        ...


class Verdict(StrEnum):
    """What Mamoru does with a message after triage."""

    ROUTE = "route"  # open the route's playbook
    ASK = "ask"  # maybe harassment, not clear which: ask back 「どれに近いですか？」
    UNRELATED = "unrelated"  # clearly not Mamoru's business: one friendly line
    UNREADABLE = "unreadable"  # nothing to read (emoji, symbols): ask what happened


@dataclass(frozen=True, slots=True)
class TriagePolicy:
    """The thresholds of the decision (see the module docstring for why they are asymmetric)."""

    route_at: float = 0.3  # the top playbook opens from this probability on (6 routes)
    safety_at: float = 0.25  # urgent-safety wins from this probability on, even if not top
    unrelated_at: float = 0.9  # below this, "out of scope" still gets the ask-back card


@dataclass(frozen=True, slots=True)
class Triage:
    """The decision for one message."""

    verdict: Verdict
    route: Route | None  # set when verdict is ROUTE
    confidence: float  # the best route's probability (never shown to staff)
    model_id: str


def decide(prediction: Prediction, policy: TriagePolicy) -> Triage:
    """Apply ``policy`` to ``prediction``: safety first, then a clear route, else ask."""
    model = prediction.model_id
    safety = prediction.probabilities.get(Route.URGENT_SAFETY, 0.0)
    if prediction.danger:
        return Triage(Verdict.ROUTE, Route.URGENT_SAFETY, max(safety, 0.5), model)
    if not prediction.readable:
        # Nothing to read: the ask-back card, which also offers the alert to the managers.
        return Triage(Verdict.UNREADABLE, None, 0.0, model)
    if safety >= policy.safety_at:
        return Triage(Verdict.ROUTE, Route.URGENT_SAFETY, safety, model)
    best, probability = prediction.best()
    if best is Route.OUT_OF_SCOPE:
        clear = probability >= policy.unrelated_at and not prediction.counterpart
        verdict = Verdict.UNRELATED if clear else Verdict.ASK
        return Triage(verdict, None, probability, model)
    if probability >= policy.route_at:
        return Triage(Verdict.ROUTE, best, probability, model)
    return Triage(Verdict.ASK, None, probability, model)


# Registry kind of the triage record kept with every incident (key: the incident id).
TRIAGE_RECORD = "triage"
NOT_TRIAGED = "none"
_MODEL_ID = re.compile(r"^[a-z0-9-]{1,40}$")
_OUTCOMES = {r.value for r in Route} | {v.value for v in Verdict} | {"exact", NOT_TRIAGED}


@dataclass(frozen=True, slots=True)
class TriageRecord:
    """How the message that led to an incident was triaged, kept with the incident.

    It travels in the data of the buttons between the answer and the report form
    (guidance card → model replies → report form → submit), so the incident stores
    the model id, the outcome and the confidence of that message. ``NONE`` says that
    no message was triaged (the form was opened with the 報告 command, a flood alert).
    Card data comes from the client: ``from_data`` keeps only well-formed values.
    """

    model_id: str  # the classifier's id, or "none"
    outcome: str  # the route opened, "ask"/"unrelated"/"unreadable", "exact" (a name), "none"
    confidence: float | None  # the best route's probability; None when not triaged

    def data(self) -> dict[str, str | float | None]:
        """The compact form carried in card data."""
        return {"model": self.model_id, "outcome": self.outcome, "confidence": self.confidence}

    @classmethod
    def from_data(cls, value: object) -> TriageRecord:
        """The record a button carried, or ``NONE`` when absent or malformed."""
        if not isinstance(value, dict):
            return NONE
        model, outcome, confidence = (value.get(k) for k in ("model", "outcome", "confidence"))
        if not isinstance(model, str) or not _MODEL_ID.match(model) or outcome not in _OUTCOMES:
            return NONE
        kept = None
        if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
            kept = float(confidence) if 0.0 <= confidence <= 1.0 else None
        return cls(model, str(outcome), kept)

    def stored(self, at: dt.datetime) -> dict[str, str | float | None]:
        """The registry value: the model id, the outcome (as ``route``), the confidence, when."""
        return {
            "model_id": self.model_id,
            "route": self.outcome,
            "confidence": self.confidence,
            "at": at.isoformat(),
        }


NONE = TriageRecord(NOT_TRIAGED, NOT_TRIAGED, None)
