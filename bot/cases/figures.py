"""The organisation's figures: counted by the database, shown as card, HTML, CSV.

``OrgFiguresService.figures`` asks the ``FigureQueries`` port (aggregate SQL in
``bot.store.figures``: a fixed number of statements however many cases there are) for
the counts of a period and hands them to the domain rule (``bot.domain.figures``). Only
counts and durations come out, plus the ids of cases the viewer may open when a viewer
is given.
"""

from __future__ import annotations

import datetime as dt

from bot.domain.access import Viewer
from bot.domain.figures import OrgFigures, figures_of
from bot.domain.incidents import JST
from bot.domain.ports import Clock, FigureQueries


def fiscal_year_start(today: dt.date) -> dt.date:
    """April 1st of the Japanese fiscal year ``today`` is in (municipal offices count so)."""
    year = today.year if today.month >= 4 else today.year - 1
    return dt.date(year, 4, 1)


class OrgFiguresService:
    """Computes the figures of a period."""

    def __init__(self, *, queries: FigureQueries, clock: Clock) -> None:
        self._queries = queries
        self._clock = clock

    def today(self) -> dt.date:
        """Today in Japan."""
        return self._clock.now().astimezone(JST).date()

    async def figures(
        self, start: dt.date, end: dt.date, *, viewer: Viewer | None = None
    ) -> OrgFigures:
        """The figures of cases reported from ``start`` to ``end`` (inclusive, JST)."""
        if end < start:
            raise ValueError("the period ends before it starts")
        counts = await self._queries.period_counts(start, end, today=self.today(), viewer=viewer)
        return figures_of(counts, start=start, end=end)
