"""Spread monitoring: what the case owner reports at each prompt, kept as an evidence note.

An observation is stored as a ``NoteItem`` whose first line is machine-readable
(``spread: reposts=120; quotes=4; copies=2``) and whose other lines are for people
(the copies' URLs and a remark), so the export can draw the spread over time from
the evidence log itself.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MARKER = "spread:"
MAX_COUNT = 10_000_000
_LINE = re.compile(r"^spread: reposts=(\d+); quotes=(\d+); copies=(\d+)$")


@dataclass(frozen=True, slots=True)
class SpreadObservation:
    """How far the posts had spread when the owner looked."""

    reposts: int
    quotes: int
    copies: int
    copy_urls: tuple[str, ...] = ()
    remark: str = ""

    def __post_init__(self) -> None:
        for name in ("reposts", "quotes", "copies"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_COUNT:
                raise ValueError(f"{name} out of range")


def spread_text(observation: SpreadObservation, *, prompt: int) -> str:
    """The note text recording ``observation`` (answer to prompt number ``prompt``)."""
    lines = [
        f"{MARKER} reposts={observation.reposts}; quotes={observation.quotes}; "
        f"copies={observation.copies}",
        f"【拡散状況の確認 第{prompt}回】リポスト・シェア {observation.reposts} / "
        f"引用 {observation.quotes} / 他サイトへの転載 {observation.copies}",
    ]
    lines += [f"転載先: {url}" for url in observation.copy_urls]
    if observation.remark:
        lines.append(observation.remark)
    return "\n".join(lines)


def parse_spread(text: str) -> SpreadObservation | None:
    """The observation a note records, or None if the note is not a spread observation."""
    first, _, rest = text.partition("\n")
    match = _LINE.match(first)
    if match is None:
        return None
    urls = tuple(
        line.removeprefix("転載先: ") for line in rest.splitlines() if line.startswith("転載先: ")
    )
    return SpreadObservation(int(match[1]), int(match[2]), int(match[3]), urls)


@dataclass(frozen=True, slots=True)
class SpreadPoint:
    """One observation in time (for the chart)."""

    at: dt.datetime
    reposts: int
    quotes: int
    copies: int
