"""SNS cases: post URLs and their platform, the legal clock and spread monitoring.

Plain rules only: what counts as a post URL (http/https only), which platform a host
belongs to, how many days a post has left before access logs are typically gone and
when the case owner is next asked about the spread. The safety and care checklist is
made of case tasks (``bot.domain.tasks``), like every task for people.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from bot.domain.errors import DomainError

MAX_URL_LENGTH = 2000
# What looks like a URL a user might paste (web, any "scheme://", or a scheme that must
# never be followed): checked, never fetched. Plain "word:" text is not a candidate.
_URL_CHARS = "[^\\s<>\"'。、「」『』（）【】]"  # stops at Japanese punctuation too
_CANDIDATE = re.compile(
    rf"(?i)(?:\b[a-z][a-z0-9+.-]{{1,15}}://{_URL_CHARS}*"
    rf"|\b(?:javascript|vbscript|data|file|about|blob|mailto):{_URL_CHARS}*"
    rf"|\bwww\.{_URL_CHARS}+"
    rf"|(?<![\w./])(?:x|twitter|facebook|instagram)\.com/{_URL_CHARS}+)"
)
_HOST = re.compile(r"^[a-z0-9.-]+$")


class Platform(StrEnum):
    """Where a post was published, detected from the URL's host."""

    X = "x"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    OTHER = "other"


_PLATFORM_HOSTS: dict[str, Platform] = {
    "x.com": Platform.X,
    "twitter.com": Platform.X,
    "facebook.com": Platform.FACEBOOK,
    "fb.com": Platform.FACEBOOK,
    "instagram.com": Platform.INSTAGRAM,
}


class InvalidPostUrl(DomainError):
    """Text given as a post URL is not an http(s) URL; ``reason`` says why (for the card)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid post URL: {reason}")
        self.reason = reason


NOT_A_URL = "not-a-url"
BAD_SCHEME = "scheme"
TOO_LONG = "too-long"


def parse_post_url(value: str) -> str:
    """``value`` as a post URL (http/https with a host); raises ``InvalidPostUrl``."""
    text = value.strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidPostUrl(TOO_LONG)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme and scheme not in ("http", "https"):
        raise InvalidPostUrl(BAD_SCHEME)
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or "." not in host or not _HOST.match(host):
        raise InvalidPostUrl(NOT_A_URL)
    if any(c.isspace() for c in text):
        raise InvalidPostUrl(NOT_A_URL)
    return text


def platform_of(url: str) -> Platform:
    """The platform of a post URL, from its host (subdomains included)."""
    host = (urlsplit(url).hostname or "").lower()
    for domain, platform in _PLATFORM_HOSTS.items():
        if host == domain or host.endswith("." + domain):
            return platform
    return Platform.OTHER


@dataclass(frozen=True, slots=True)
class UrlScan:
    """The URLs found in a message and the pieces refused (with the reason)."""

    urls: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]  # (text, reason)


def scan_urls(text: str) -> UrlScan:
    """Every URL-like piece of ``text``: accepted post URLs (deduplicated) and refusals."""
    urls: dict[str, None] = {}
    refused: list[tuple[str, str]] = []
    for match in _CANDIDATE.finditer(text):
        piece = match.group(0).rstrip(".,、。)）")
        # A bare host (copied without the scheme) is read as https.
        candidate = piece if "://" in piece or ":" in piece.split("/")[0] else f"https://{piece}"
        try:
            urls.setdefault(parse_post_url(candidate), None)
        except InvalidPostUrl as exc:
            refused.append((piece[:80], exc.reason))
    return UrlScan(tuple(urls), tuple(refused))


def looks_like_capture(text: str) -> bool:
    """Whether a chat message carries something to capture (a URL or a URL-like scheme)."""
    return bool(_CANDIDATE.search(text))


# --- The legal clock: access logs are often kept only 3-6 months.


class ClockLevel(StrEnum):
    """How urgent a sender-disclosure request is for a post."""

    OK = "ok"
    WARN = "warn"
    CLOSED = "closed"  # the typical access-log window has passed


@dataclass(frozen=True, slots=True)
class LegalClock:
    """Thresholds in days since the post: warn from ``warn_days``, window ``window_days``."""

    warn_days: int = 60
    window_days: int = 90

    def days_since(self, posted_at: dt.datetime, now: dt.datetime) -> int:
        """Whole days between the post and ``now`` (never negative)."""
        return max(0, (now - posted_at).days)

    def level(self, posted_at: dt.datetime, now: dt.datetime) -> ClockLevel:
        """How urgent it is to start a disclosure request for a post made at ``posted_at``."""
        days = self.days_since(posted_at, now)
        if days >= self.window_days:
            return ClockLevel.CLOSED
        if days >= self.warn_days:
            return ClockLevel.WARN
        return ClockLevel.OK

    def days_left(self, posted_at: dt.datetime, now: dt.datetime) -> int:
        """Days left before the typical window closes (0 once it has)."""
        return max(0, self.window_days - self.days_since(posted_at, now))


# --- Spread monitoring.


@dataclass(frozen=True, slots=True)
class MonitoringPlan:
    """Prompts: every day for ``daily_days`` days, then weekly for ``weekly_weeks`` weeks."""

    daily_days: int = 7
    weekly_weeks: int = 8

    def due_times(self, start: dt.datetime) -> tuple[dt.datetime, ...]:
        """When the case owner is asked, counted from ``start`` (the first capture)."""
        daily = [start + dt.timedelta(days=d) for d in range(1, self.daily_days + 1)]
        last = daily[-1] if daily else start
        weekly = [last + dt.timedelta(weeks=w) for w in range(1, self.weekly_weeks + 1)]
        return (*daily, *weekly)


_DEAL = re.compile(
    r"(消し|削除).{0,20}(ほしけ|欲しけ|てやる|てあげ|引き換え|引換|条件|なら)"
    r"|(謝れば|謝罪すれば|通せば|認めれば).{0,20}(消|削除)"
    r"|(delete|remove|take (it )?down).{0,40}(if|in exchange|unless)"
    r"|(in exchange|if you apologi[sz]e).{0,40}(delete|remove|take (it )?down)",
    re.IGNORECASE | re.DOTALL,
)


def offers_deletion_deal(text: str) -> bool:
    """Whether a report says the customer offers to delete a post in exchange for something."""
    return bool(_DEAL.search(text))
