"""Read-only cards: built once, handed to every turn, never copied.

A guidance card depends only on its playbook and the locale, so it is built once
and shared. Shared safely only if nobody can change it: ``freeze`` turns a card
into dicts and lists that refuse every mutation (a ``TypeError`` at the faulty
line, in tests, rather than one user's change leaking into another user's card).

Being immutable, a frozen card is its own deep copy. The Agents SDK deep-copies
every outgoing activity (``TurnContext.send_activities``); for a guidance card
(≈ 13 KB of JSON, ≈ 500 dicts and lists) that copy cost more than building the
card. Frozen values still compare equal to plain ones and serialise the same
(``json.dumps``, pydantic).

Each frozen class carries the serializer of a plain dict or list as
``__pydantic_serializer__``, the attribute pydantic-core looks for on any value it
serialises. Without it, pydantic-core (the SDK serialises every outgoing activity
with it) probes each subclass instance for model and dataclass attributes first,
which made a frozen card three times as slow to send as a plain one; with it,
about as fast. ``tests/cards/test_frozen.py`` checks the output is the same.
"""

from __future__ import annotations

from typing import Any, NoReturn

from pydantic_core import SchemaSerializer, core_schema


def _refuse(self: object, *_args: object, **_kwargs: object) -> NoReturn:
    raise TypeError(f"a frozen card cannot be changed ({type(self).__name__}); build a new one")


class _OwnCopy:
    """Immutable, so every copy of it may be itself."""

    __slots__ = ()

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, _memo: dict[int, Any]) -> Any:
        return self


class FrozenDict(_OwnCopy, dict[str, Any]):
    """A card's dict that refuses changes and is its own copy."""

    __slots__ = ()
    __pydantic_serializer__ = SchemaSerializer(core_schema.dict_schema())
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


class FrozenList(_OwnCopy, list[Any]):
    """A card's list that refuses changes and is its own copy."""

    __slots__ = ()
    __pydantic_serializer__ = SchemaSerializer(core_schema.list_schema())
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """``value`` with every dict and list, at any depth, made read-only."""
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(item) for item in value)
    return value
