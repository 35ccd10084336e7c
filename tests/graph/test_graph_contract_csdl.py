"""Contract: every property the models and the sandbox use exists in Graph's official v1.0 CSDL.

The CSDL is the subset committed in tests/schemas/graph (cut by scripts/extract-graph-csdl.py).
These tests never skip: a missing or truncated schema file is a failure, in CI and locally.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET

import pytest
from pydantic import BaseModel

from graph import models
from graph.sandbox import views
from graph.sandbox.state import Tenant
from tests.support.paths import SCHEMAS_DIR

CSDL = SCHEMAS_DIR / "graph" / "v1.0-subset.csdl"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@functools.cache
def csdl_types() -> dict[str, tuple[set[str], str | None]]:
    """Type name -> (its own property names, base type name)."""
    out: dict[str, tuple[set[str], str | None]] = {}
    for schema in ET.parse(CSDL).getroot().iter(f"{EDM}Schema"):
        if schema.get("Namespace") != "microsoft.graph":
            continue  # other namespaces (callRecords, ...) reuse names like "user"
        for el in schema:
            if el.tag not in {f"{EDM}EntityType", f"{EDM}ComplexType"}:
                continue
            names = {
                p.get("Name", "")
                for p in el
                if p.tag in {f"{EDM}Property", f"{EDM}NavigationProperty"}
            }
            base = el.get("BaseType")
            out[el.get("Name", "")] = (names, base.split(".")[-1] if base else None)
    return out


def properties(type_name: str) -> set[str]:
    """All properties of a type, inherited ones included."""
    types = csdl_types()
    names: set[str] = set()
    current: str | None = type_name
    while current:
        assert current in types, (
            f"{current} is not in {CSDL.name}: add it to ROOT_TYPES (scripts/extract-graph-csdl.py)"
        )
        own, current = types[current]
        names |= own
    return names


def aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


@pytest.mark.parametrize(
    ("model", "type_name"),
    [
        (models.Message, "message"),
        (models.MailFolder, "mailFolder"),
        (models.MessageRule, "messageRule"),
        (models.ExistingRule, "messageRule"),
        (models.MessageRulePredicates, "messageRulePredicates"),
        (models.MessageRuleActions, "messageRuleActions"),
        (models.EmailAddress, "emailAddress"),
        (models.Recipient, "recipient"),
        (models.ItemBody, "itemBody"),
        (models.Event, "event"),
        (models.DateTimeTimeZone, "dateTimeTimeZone"),
        (models.Attendee, "attendee"),
        (models.DirectoryObject, "user"),
    ],
)
def test_model_properties_exist(model: type[BaseModel], type_name: str) -> None:
    missing = aliases(model) - properties(type_name)
    assert not missing, f"{model.__name__}: not in CSDL {type_name}: {missing}"


def test_forbidden_actions_are_real_graph_actions() -> None:
    # The list we refuse must name real properties, or the guard would guard nothing.
    assert properties("messageRuleActions") >= models.FORBIDDEN_RULE_ACTIONS


@pytest.mark.parametrize(
    ("props", "type_name"),
    [
        (views.MESSAGE_PROPERTIES, "message"),
        (views.FOLDER_PROPERTIES, "mailFolder"),
        (views.RULE_PROPERTIES, "messageRule"),
        (views.EVENT_PROPERTIES, "event"),
        (views.ITEM_BODY_PROPERTIES, "itemBody"),
        (views.EMAIL_ADDRESS_PROPERTIES, "emailAddress"),
    ],
)
def test_sandbox_property_lists_exist(props: frozenset[str], type_name: str) -> None:
    assert not props - properties(type_name)


def test_sandbox_emits_only_declared_properties() -> None:
    tenant = Tenant()
    box = tenant.add_user("a@city.example.jp", "A")
    msg = tenant.deliver(box, from_address="x@example.net", subject="s", body="b")
    shape = views.message_json(msg, immutable=True)
    assert set(shape) - {"@odata.etag"} == views.MESSAGE_PROPERTIES
    assert set(shape["from"]["emailAddress"]) <= properties("emailAddress")
    assert set(shape["body"]) <= properties("itemBody")
    folder = views.folder_json(box, box.folder("inbox"))  # type: ignore[arg-type]
    assert set(folder) == views.FOLDER_PROPERTIES


def test_sandbox_write_types_are_the_csdl_types() -> None:
    # graph/sandbox/graph_types.py is generated from the same subset: the local service
    # refuses exactly the property names Graph's metadata does not declare.
    from graph.sandbox.graph_types import TYPES

    types = csdl_types()
    for name, (base, props) in TYPES.items():
        own, csdl_base = types[name]
        assert set(props) == own, name
        assert base == csdl_base, name
    for model_type in ("messageRule", "messageRuleActions", "event", "message", "mailFolder"):
        assert model_type in TYPES
