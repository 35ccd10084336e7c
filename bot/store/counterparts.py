"""The counterpart index as rows: which case names which counterpart key.

The keys are ``bot.domain.linking.index_keys`` (the one home of normalisation); this
module only fits them into the ``case_counterparts`` column. The SQL store writes the
rows with the case and looks cases up by key; migration 0008 backfills existing cases.
Rows are only ever inserted: the app's database role may not change or delete them
(``bot/store/grants.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from bot.domain.incidents import Counterparts
from bot.domain.linking import index_keys

MAX_KEY = 320  # the column's length


def stored_key(key: str) -> str:
    """``key`` as stored: a long one (a URL) becomes its kind and a SHA-256, prefix kept."""
    if len(key) <= MAX_KEY:
        return key
    kind, _, rest = key.partition(":")
    return f"{kind}:sha256:{hashlib.sha256(rest.encode()).hexdigest()}"


def stored_keys(keys: Iterable[str]) -> list[str]:
    """``stored_key`` of each key, sorted and without repeats."""
    return sorted({stored_key(k) for k in keys})


def index_rows(incident_id: str, counterparts: Counterparts) -> list[dict[str, str]]:
    """The ``case_counterparts`` rows of a case."""
    return [{"key": k, "incident_id": incident_id} for k in stored_keys(index_keys(counterparts))]
