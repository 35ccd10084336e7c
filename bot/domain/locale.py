"""Locales Mamoru speaks: Japanese first, English too."""

from __future__ import annotations

from enum import StrEnum


class Locale(StrEnum):
    """A language Mamoru answers in."""

    JA = "ja"
    EN = "en"

    @classmethod
    def from_tag(cls, tag: str | None) -> Locale:
        """Map a Teams locale tag (``ja-JP``, ``en-US``, None) to a Locale; Japanese by default."""
        if tag and tag.strip().lower().startswith("en"):
            return cls.EN
        return cls.JA
