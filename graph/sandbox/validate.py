"""Request bodies checked the way Graph's OData layer checks them.

Graph refuses a write naming a property its type does not declare (400 ``RequestBodyRead``,
"The property 'x' does not exist on type '...'"), at any depth; it does not echo unknown
properties back. The types come from the official CSDL (``graph_types``, generated).
Instance annotations (``@odata.type``...) are allowed, as in Graph.
"""

from __future__ import annotations

from typing import Any

from graph.sandbox.graph_types import TYPES
from graph.sandbox.service import GraphHttpError


def properties(type_name: str) -> dict[str, str | None]:
    """Every property of a type, inherited ones included: name -> structured type or None."""
    out: dict[str, str | None] = {}
    current: str | None = type_name
    while current:
        base, own = TYPES[current]
        out = own | out
        current = base
    return out


def check_body(body: Any, type_name: str) -> dict[str, Any]:
    """The body as a JSON object of ``type_name``, or Graph's 400 for the first unknown name."""
    if not isinstance(body, dict):
        raise GraphHttpError(
            400, "RequestBodyRead", "The request body must be a JSON object.", None
        )
    _check(body, type_name)
    return body


def _check(value: Any, type_name: str) -> None:
    if isinstance(value, list):
        for item in value:
            _check(item, type_name)
        return
    if not isinstance(value, dict):
        return
    known = properties(type_name)
    for name, inner in value.items():
        if "@" in name:
            continue  # instance annotations (@odata.type, @odata.etag)
        if name not in known:
            raise GraphHttpError(
                400,
                "RequestBodyRead",
                f"The property '{name}' does not exist on type 'microsoft.graph.{type_name}'. "
                "Make sure to only use property names that are defined by the type or mark "
                "the type as open type.",
            )
        if (nested := known[name]) is not None:
            _check(inner, nested)
