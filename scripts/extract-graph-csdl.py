#!/usr/bin/env python3
"""Cut the subset of Microsoft Graph's v1.0 CSDL that Mamoru's contract tests read.

The full metadata (github.com/microsoftgraph/msgraph-metadata, schemas/v1.0-Prod.csdl) is
3.3 MB; the tests need only the types Mamoru reads or writes and the bound actions it calls.
This keeps, from the ``microsoft.graph`` schema:

- the entity and complex types named in ROOT_TYPES, their base types, and every complex or
  enum type their structural properties use (navigation properties are kept by name only:
  their target types are not followed, or ``user`` would pull in half of Graph);
- the bound actions and functions named in ACTIONS (every overload), with the types of
  their parameters.

It also writes ``graph/sandbox/graph_types.py``: the same types as Python data (own
properties with their types, base type), from which the local Graph service rejects
unknown properties on writes as Graph does. A contract test checks it against the subset.

Usage (run from the repository root; both outputs are committed):

    python scripts/extract-graph-csdl.py path/to/v1.0-Prod.csdl tests/schemas/graph/v1.0-subset.csdl

Re-run it after updating the upstream file, and note the upstream commit in
tests/schemas/README.md.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
NAMESPACE = "microsoft.graph"

# Every resource type a Mamoru model or the local Graph service's views name.
ROOT_TYPES = (
    "message",
    "mailFolder",
    "messageRule",
    "messageRulePredicates",
    "messageRuleActions",
    "emailAddress",
    "recipient",
    "itemBody",
    "event",
    "dateTimeTimeZone",
    "attendee",
    "user",
    "group",
    "directoryObject",
    "calendar",
)
# Every bound action or function Mamoru calls (or deliberately refuses to call).
ACTIONS = (
    "sendMail",
    "move",
    "checkMemberGroups",
    "getMemberGroups",
)


def _local(type_ref: str) -> str | None:
    """``Collection(graph.x)`` / ``graph.x`` / ``microsoft.graph.x`` -> ``x``; Edm types -> None."""
    inner = type_ref.removeprefix("Collection(").removesuffix(")")
    for prefix in ("graph.", f"{NAMESPACE}."):
        if inner.startswith(prefix):
            return inner[len(prefix) :]
    return None


def extract(source: Path, target: Path) -> None:
    ET.register_namespace("edmx", EDMX)
    ET.register_namespace("", EDM)
    root = ET.parse(source).getroot()
    schema = next(s for s in root.iter(f"{{{EDM}}}Schema") if s.get("Namespace") == NAMESPACE)
    by_name: dict[str, ET.Element] = {}
    for el in schema:
        if el.tag in {f"{{{EDM}}}EntityType", f"{{{EDM}}}ComplexType", f"{{{EDM}}}EnumType"}:
            by_name[el.get("Name", "")] = el

    wanted: set[str] = set()
    pending = list(ROOT_TYPES)
    actions = [
        el
        for el in schema
        if el.tag in {f"{{{EDM}}}Action", f"{{{EDM}}}Function"} and el.get("Name") in ACTIONS
    ]
    for action in actions:
        for child in action:
            name = _local(child.get("Type", ""))
            if name and child.tag == f"{{{EDM}}}Parameter":
                pending.append(name)
    while pending:
        name = pending.pop()
        if name in wanted or name not in by_name:
            continue
        wanted.add(name)
        el = by_name[name]
        base = el.get("BaseType")
        if base and (local := _local(base)):
            pending.append(local)
        for prop in el:
            if prop.tag == f"{{{EDM}}}Property" and (local := _local(prop.get("Type", ""))):
                pending.append(local)

    out_root = ET.Element(f"{{{EDMX}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(out_root, f"{{{EDMX}}}DataServices")
    out_schema = ET.SubElement(
        services, f"{{{EDM}}}Schema", {"Namespace": NAMESPACE, "Alias": "graph"}
    )
    for el in schema:
        keep = (el.get("Name") in wanted and el in by_name.values()) or el in actions
        if keep:
            for child in list(el):
                if child.tag == f"{{{EDM}}}Annotation":
                    el.remove(child)  # descriptions and capabilities: not read by the tests
            out_schema.append(el)
    ET.indent(out_root, space="  ")
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(out_root).write(target, encoding="utf-8", xml_declaration=True)
    print(f"{target}: {len(wanted)} types, {len(actions)} actions", file=sys.stderr)
    write_python(
        {n: by_name[n] for n in sorted(wanted) if by_name[n].tag != f"{{{EDM}}}EnumType"},
        Path(__file__).resolve().parents[1] / "graph" / "sandbox" / "graph_types.py",
    )


def write_python(types: dict[str, ET.Element], target: Path) -> None:
    """The structured types as a Python module: name -> (base, {property: type or None})."""
    lines = [
        '"""Graph v1.0 entity and complex types the local service validates writes against.',
        "",
        "Generated by scripts/extract-graph-csdl.py from the official CSDL (see",
        "tests/schemas/README.md); do not edit. Each type: (base type or None, {property name:",
        "its structured type's name, or None for primitives and enums}). Collections are not",
        "marked: a list value is checked item by item.",
        '"""',
        "",
        "TYPES: dict[str, tuple[str | None, dict[str, str | None]]] = {",
    ]
    for name, el in types.items():
        base = _local(el.get("BaseType", "") or "")
        props: dict[str, str | None] = {}
        for prop in el:
            if prop.tag in {f"{{{EDM}}}Property", f"{{{EDM}}}NavigationProperty"}:
                local = _local(prop.get("Type", ""))
                props[prop.get("Name", "")] = local if local in types else None
        lines.append(f"    {name!r}: (")
        lines.append(f"        {base!r},")
        lines.append("        {")
        lines.extend(f"            {k!r}: {v!r}," for k, v in props.items())
        lines.append("        },")
        lines.append("    ),")
    lines.append("}")
    target.write_text("\n".join(lines).replace("'", '"') + "\n", encoding="utf-8")
    print(f"{target}: {len(types)} types", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    extract(Path(sys.argv[1]), Path(sys.argv[2]))
