"""Small builders for Adaptive Card 1.5 elements, shared by every card.

Only what the cards need; each returns a plain dict ready for JSON.
"""

from __future__ import annotations

import re
from typing import Any

from bot.domain.locale import Locale
from bot.domain.triage import TriageRecord
from cards.i18n import t
from cards.verbs import Verb

Element = dict[str, Any]
CARD_VERSION = "1.5"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
# TextBlock and FactSet render a Markdown subset; these characters start its syntax.
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\*_[]()#>`~|"})
_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s)", re.MULTILINE)
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])://|\bwww\.")
# Bidi embeddings, overrides and isolates: typed, they reorder what a card shows
# ("長課 橋高" preceded by U+202E reads as "高橋 課長"), so they are dropped.
_BIDI_CONTROLS = str.maketrans(dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def card(body: list[Element], actions: list[Element] | None = None, **extra: Any) -> Element:
    """An AdaptiveCard 1.5 envelope around ``body`` and ``actions``."""
    result: Element = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA_URL,
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        result["actions"] = actions
    result.update(extra)
    return result


def text(
    value: str,
    *,
    size: str | None = None,
    weight: str | None = None,
    color: str | None = None,
    subtle: bool = False,
    separator: bool = False,
    spacing: str | None = None,
) -> Element:
    """A wrapping TextBlock."""
    block: Element = {"type": "TextBlock", "text": value, "wrap": True}
    for key, val in (("size", size), ("weight", weight), ("color", color), ("spacing", spacing)):
        if val:
            block[key] = val
    if subtle:
        block["isSubtle"] = True
    if separator:
        block["separator"] = True
    return block


def plain(value: str) -> str:
    """User-supplied text shown as typed, never as Markdown: no live link, list or emphasis.

    Every name, summary, comment, address or URL a person typed goes through this before
    it reaches a TextBlock or a FactSet (e.g. ``[再認証](https://evil.example)`` must not
    become a link in a manager's card). Markdown characters are escaped with a backslash;
    and since Teams also turns bare addresses into links whatever the escapes, the
    colon of a URL's ``://`` and the stop of ``www.`` become their full-width forms
    (``https：//evil.example``): still readable, no longer a link. Bidi override and
    isolate characters are dropped, so typed text cannot show itself reordered.
    """
    defanged = _AUTOLINK.sub(
        lambda m: "：//" if m.group(0) == "://" else m.group(0)[:3] + "．",
        value.translate(_BIDI_CONTROLS),
    )
    escaped = defanged.translate(_MARKDOWN)
    return _LIST_START.sub(_unlisted, escaped)


def _unlisted(match: re.Match[str]) -> str:
    marker = match.group(2)  # "1." is escaped as "1\.", a bullet as "\-"
    escaped = marker[:-1] + "\\." if marker.endswith(".") else "\\" + marker
    return match.group(1) + escaped


def heading(value: str, *, size: str = "Medium") -> Element:
    """A bold heading."""
    return text(value, size=size, weight="Bolder")


def bullets(items: list[str], *, numbered: bool = False) -> Element:
    """A list as one TextBlock (Markdown lists render in Teams)."""
    lines = [f"{i}. {item}" if numbered else f"- {item}" for i, item in enumerate(items, 1)]
    return text("\r".join(lines))


def container(items: list[Element], **extra: Any) -> Element:
    """A Container grouping ``items``."""
    result: Element = {"type": "Container", "items": items}
    result.update(extra)
    return result


def execute(title: str, verb: Verb, locale: Locale, **data: Any) -> Element:
    """An Action.Execute button; the locale travels in the data so follow-ups keep the language."""
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb.value,
        "data": {"locale": locale.value, **data},
    }


def show_card(title: str, body: list[Element]) -> Element:
    """An Action.ShowCard revealing ``body`` in place, to keep cards short."""
    return {
        "type": "Action.ShowCard",
        "title": title,
        "card": {"type": "AdaptiveCard", "version": CARD_VERSION, "body": body},
    }


def stacked(actions: list[Element]) -> list[Element]:
    """Each action in its own ActionSet: full-width buttons, one under the other.

    A card's action bar lays buttons side by side; on a 446 px phone screen four or
    five of them squeeze their labels to one character per line. Stacked, every
    label keeps the whole width.
    """
    return [{"type": "ActionSet", "actions": [action]} for action in actions]


def toggle(title: str, *target_ids: str) -> Element:
    """An Action.ToggleVisibility showing or hiding the elements ``target_ids``."""
    return {"type": "Action.ToggleVisibility", "title": title, "targetElements": list(target_ids)}


def hidden(element: Element, element_id: str) -> Element:
    """``element`` hidden until a ``toggle`` shows it."""
    return {**element, "id": element_id, "isVisible": False}


def legal_reminder(locale: Locale) -> Element:
    """The one-line reminder to confirm legal points with the legal section."""
    return text(t("legal.reminder", locale), size="Small", subtle=True, separator=True)


def triage_data(triage: TriageRecord | None) -> dict[str, Any]:
    """Button data carrying how the message was triaged, on to the report form."""
    return {"triage": triage.data()} if triage is not None else {}


def next_steps(
    locale: Locale, *, playbook_id: str | None = None, triage: TriageRecord | None = None
) -> list[Element]:
    """The next-step buttons every guidance answer offers."""
    data = ({"playbook": playbook_id} if playbook_id else {}) | triage_data(triage)
    return [
        execute(t("action.report", locale), Verb.REPORT_OPEN, locale, **data),
        execute(t("action.manager", locale), Verb.TALK_TO_MANAGER, locale, **data),
    ]
