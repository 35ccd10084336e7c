"""UI strings of the cards, per locale. Playbook content carries its own translations."""

from __future__ import annotations

from bot.domain.locale import Locale
from cards.i18n import en, ja

_TABLES: dict[Locale, dict[str, str]] = {Locale.JA: ja.STRINGS, Locale.EN: en.STRINGS}


def t(key: str, locale: Locale, **values: object) -> str:
    """The UI string ``key`` in ``locale``, with ``{placeholders}`` filled from ``values``."""
    text = _TABLES[locale][key]
    return text.format(**values) if values else text
