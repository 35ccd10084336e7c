"""Where each approved action of a case stands, in one vocabulary for every card and notice.

The thread's card and the staff member's notices are built from the same
``ActionLine`` values, so they never disagree: an action is in exactly one status, a
mail names its recipient, a manual step names its owner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.escalation import ActionKind
from bot.domain.incidents import JST
from bot.domain.locale import Locale
from cards.i18n import t


class Status(StrEnum):
    """The status of one approved action (labels: ``status.*`` in cards/i18n)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    SENDING = "sending"
    SENT = "sent"
    OPEN = "open"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether nothing more happens to the action (done, sent or failed)."""
        return self in (Status.DONE, Status.SENT, Status.FAILED, Status.CANCELLED)

    @property
    def done(self) -> bool:
        """Whether the action did what it should."""
        return self in (Status.DONE, Status.SENT)


@dataclass(frozen=True, slots=True)
class ActionLine:
    """One approved action and where it stands."""

    kind: ActionKind
    status: Status
    done: int = 0  # mail protection: mails archived so far
    total: int = 0  # ... of how many
    to: str = ""  # organisation mails: the recipient
    at: dt.datetime | None = None  # when it finished (a mail: when it was sent)
    owner: str = ""  # manual steps: who owns it
    error: str = ""


def status_label(status: Status, locale: Locale) -> str:
    """The one word for ``status`` in ``locale``."""
    return t(f"status.{status.value}", locale)


# Job states (bot.domain.jobs.JobState values) in the same words.
_JOB_STATUS = {
    "queued": Status.QUEUED,
    "running": Status.RUNNING,
    "succeeded": Status.DONE,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
}


def job_status_label(state: str, error: str, locale: Locale) -> str:
    """A job's state in the one vocabulary (with the error of a failed job)."""
    status = _JOB_STATUS.get(state, Status.QUEUED)
    label = status_label(status, locale)
    if status in (Status.FAILED, Status.CANCELLED) and error:
        label += f"（{error}）" if locale is Locale.JA else f" ({error})"
    return label


def action_name(kind: ActionKind, locale: Locale) -> str:
    """The action's name, as on the card's toggles."""
    return t(f"action.kind.{kind.value}", locale)


def describe(line: ActionLine, locale: Locale) -> str:
    """One line: name, the figures or recipient, then its status (and owner when open)."""
    name = action_name(line.kind, locale)
    detail = ""
    if line.kind is ActionKind.MAIL_PROTECTION and line.total:
        detail = t("esc.archived", locale, done=line.done, total=line.total)
    elif line.to and line.at and line.status is Status.SENT:
        detail = t("esc.mail_sent_to", locale, to=line.to, at=_when(line.at))
    elif line.to:
        detail = t("esc.mail_to", locale, to=line.to)
    parts = [name, detail, status_label(line.status, locale)]
    if line.status is Status.FAILED and line.error:
        parts[-1] += f"（{line.error}）" if locale is Locale.JA else f" ({line.error})"
    if line.owner and not line.status.finished:
        parts.append(t("esc.owner", locale, owner=line.owner))
    return " — ".join(p for p in parts if p)


def _when(at: dt.datetime) -> str:
    return at.astimezone(JST).strftime("%m/%d %H:%M")
