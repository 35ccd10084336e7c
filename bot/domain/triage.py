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
    """

    probabilities: dict[str, float]
    danger: bool
    readable: bool
    model_id: str

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
        verdict = Verdict.UNRELATED if probability >= policy.unrelated_at else Verdict.ASK
        return Triage(verdict, None, probability, model)
    if probability >= policy.route_at:
        return Triage(Verdict.ROUTE, best, probability, model)
    return Triage(Verdict.ASK, None, probability, model)
