"""What an SNS evidence capture holds between the chat messages and the form's submission.

A staff member pastes URLs and screenshots over one or more messages; they gather in a
``PendingCapture`` (one per person) until the form is submitted to a case. Notes are
message keys with values, rendered by the cards in the staff member's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.domain.evidence import Screenshot, iso_utc, parse_utc
from bot.domain.sns import Platform, platform_of


@dataclass(frozen=True, slots=True)
class Note:
    """Something to tell the user: an i18n key and its values."""

    key: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingCapture:
    """URLs and screenshots collected so far, not yet recorded on a case."""

    started_at: dt.datetime
    urls: tuple[str, ...] = ()
    screenshots: tuple[Screenshot, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether nothing has been collected."""
        return not self.urls and not self.screenshots

    def platforms(self) -> tuple[tuple[str, Platform], ...]:
        """Each URL with its platform."""
        return tuple((u, platform_of(u)) for u in self.urls)

    def to_json(self) -> dict[str, Any]:
        """A JSON object for the registry."""
        return {
            "started_at": iso_utc(self.started_at),
            "urls": list(self.urls),
            "screenshots": [
                {"sha256": s.sha256, "filename": s.filename, "media_type": s.media_type}
                for s in self.screenshots
            ],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PendingCapture:
        """The inverse of ``to_json``."""
        return cls(
            started_at=parse_utc(value["started_at"]),
            urls=tuple(value.get("urls", [])),
            screenshots=tuple(Screenshot(**s) for s in value.get("screenshots", [])),
        )


@dataclass(frozen=True, slots=True)
class CaseChoice:
    """An open SNS case the capture can go to."""

    id: str
    summary: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RecordedPost:
    """A post recorded by a submission (``linked``: it was already on the case)."""

    seq: int
    url: str
    platform: Platform
    posted_at: dt.datetime | None
    screenshots: tuple[Screenshot, ...] = ()
    linked: bool = False


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """What a submission did, for the result card."""

    case_id: str
    posts: tuple[RecordedPost, ...]
    notes: tuple[Note, ...] = ()
