"""The layout of an export bundle, shared by the writer and the verifier.

A bundle is a ZIP file with, at its root::

    report.html      Japanese, print-ready report (summary, timeline, counts, evidence table)
    evidence.csv     every evidence item, one row each (UTF-8 with BOM, for Excel)
    mail/            the original .eml files, named by entry number
    screenshots/     SNS screenshots, named by entry number
    VERIFY.txt       how a recipient checks the bundle
    manifest.json    the chain (every entry's canonical JSON and hashes) and every file's SHA-256
    SHA256SUMS       ``sha256sum -c`` input for every other file

``manifest.json`` is valid JSON written one entry per line, so it can be produced and
checked in flat memory: line 1 is ``{"bundle": {...}, "entries": [``, then one entry
per line (comma-terminated except the last), then ``]}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.domain.evidence import EvidenceRecord, FileRef, file_refs

BUNDLE_FORMAT = "mamoru-evidence-bundle"
BUNDLE_VERSION = 1
REPORT = "report.html"
CSV = "evidence.csv"
VERIFY = "VERIFY.txt"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
DOCUMENTS = (REPORT, CSV, VERIFY)
MANIFEST_OPEN = '"entries":['
MANIFEST_CLOSE = "]}"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    # Screenshot names come from users: keep them readable but path- and shell-safe.
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[-80:]


def file_path(seq: int, index: int, ref: FileRef) -> str:
    """The path inside the bundle of the ``index``-th file of entry ``seq``."""
    if ref.role == "eml":
        return f"mail/{seq:06d}.eml"
    return f"screenshots/{seq:06d}-{index + 1}-{_safe(ref.name)}"


def bundle_files(record: EvidenceRecord) -> list[tuple[str, FileRef]]:
    """``(path in bundle, file)`` for every file of ``record``."""
    return [(file_path(record.seq, i, ref), ref) for i, ref in enumerate(file_refs(record.item))]


def manifest_header(header: dict[str, Any]) -> str:
    """Line 1 of ``manifest.json``."""
    text = json.dumps({"bundle": header}, ensure_ascii=False, sort_keys=True)
    return text[:-1] + "," + MANIFEST_OPEN + "\n"


def manifest_entry(
    seq: int, prev_hash: str, hash_: str, entry: str, files: list[tuple[str, str]]
) -> str:
    """One entry line of ``manifest.json`` (without the separating comma)."""
    return json.dumps(
        {
            "seq": seq,
            "prev_hash": prev_hash,
            "hash": hash_,
            "entry": entry,
            "files": [{"path": p, "sha256": s} for p, s in files],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME_BYTES = 512


def member_name_problem(name: str) -> str | None:
    """Why ``name`` can never be a bundle member's (None if it is a safe relative path).

    A bundle's members are written by ``file_path`` and the fixed document names: plain
    relative paths. Anything else could write outside the folder it is unpacked into.
    """
    if not name:
        return "an empty name"
    if len(name.encode("utf-8", errors="replace")) > MAX_NAME_BYTES:
        return f"a name longer than {MAX_NAME_BYTES} bytes"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control characters in its name"
    if "\\" in name:
        return "a backslash in its name (a Windows path)"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "a path with '..', '.' or an empty part"
    return None


def parse_manifest_header(line: str) -> dict[str, Any]:
    """The ``bundle`` object of line 1; raises ``ValueError`` if the layout is not ours."""
    stripped = line.rstrip("\n")
    if not stripped.endswith(MANIFEST_OPEN):
        raise ValueError("manifest.json does not start with the bundle header")
    document: dict[str, Any] = json.loads(stripped[: -len(MANIFEST_OPEN)].rstrip(",") + "}")
    header: dict[str, Any] = document["bundle"]
    return header
