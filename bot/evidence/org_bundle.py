"""The combined bundle of an organisational case: each member's own bundle, and an index.

A ZIP file with, at its root::

    cases/KH-2026-0001.zip   each member case's evidence bundle, exactly as
    cases/KH-2026-0002.zip   ``export_bundle`` writes it (stored, not recompressed):
                             unzip one and it verifies on its own
    VERIFY.txt               how a recipient checks the whole and each part
    org-manifest.json        the organisational case, and per member: path, SHA-256,
                             size and the chain head its bundle shows
    SHA256SUMS               ``sha256sum -c`` input for every other file

Nothing of any member's evidence is merged or rewritten: the org manifest only hashes
the member bundles. ``verify_org_bundle`` checks the layout (the same hostile-ZIP rules
as a case bundle), every hash, and then verifies each member bundle with the case
bundle verifier, which must report the chain head the org manifest lists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.errors import BundleError
from bot.domain.evidence import iso_utc
from bot.domain.incidents import JST, Person
from bot.domain.org_cases import OrgCase, is_org_case_id
from bot.domain.ports import BlobStore, Clock, Store
from bot.domain.sns import LegalClock
from bot.evidence import report
from bot.evidence.bundle import SUMS
from bot.evidence.export import (
    ExportResult,
    HashingZipWriter,
    clean_stale_partials,
    export_bundle,
    publish,
)
from bot.evidence.verify import Verification, member_problem, verify_bundle
from bot.evidence.zipread import Member, ZipDamaged, ZipReader
from bot.evidence.zipstream import ZipStreamWriter

ORG_BUNDLE_FORMAT = "mamoru-org-bundle"
ORG_BUNDLE_VERSION = 1
ORG_MANIFEST = "org-manifest.json"
ORG_VERIFY = "VERIFY.txt"
MAX_ORG_MANIFEST_BYTES = 1 << 20
MAX_MEMBERS = 500
_MEMBER_PATH = re.compile(r"^cases/(KH-\d{4}-\d{4,9})\.zip$")
_CHUNK = 1 << 20


def member_path(case_id: str) -> str:
    """Where a member's bundle sits in the combined bundle."""
    return f"cases/{case_id}.zip"


def is_org_bundle(path: Path) -> bool:
    """Whether the ZIP at ``path`` is a combined bundle (it has an org manifest)."""
    with ZipReader(path) as reader:
        return any(m.name == ORG_MANIFEST for m in reader.members())


# --- Writing


@dataclass(frozen=True, slots=True)
class OrgExportResult:
    """What was written: the file and each member's own export."""

    path: Path
    org_id: str
    members: tuple[ExportResult, ...]


def org_verify_text(org_id: str, members: list[ExportResult], generated_at: dt.datetime) -> str:
    """The VERIFY.txt of a combined bundle (Japanese, then English)."""
    lines = "\n".join(
        f"  {member_path(m.case_id)}  件数/items {m.count}  head {m.head}" for m in members
    )
    return f"""組織案件の証拠一式の確認方法 / How to verify this organisational-case bundle
================================================================
組織案件 / Organisational case: {org_id}
出力日時 / Exported at:         {report.jst(generated_at)} JST
構成案件の証拠一式 / Member bundles:
{lines}

各職員の証拠は、構成案件ごとの証拠一式（cases/ の下の ZIP）にそれぞれ別のまま入っています。
Each staff member's evidence is in its own case bundle under cases/, unchanged.

1. 全体を確認する / Check the whole
   mamoru evidence verify --bundle {org_id}-evidence.zip
   org-manifest.json に記録した各証拠一式のハッシュと、各証拠一式の中身を確認します。
   It checks each member bundle's hash against org-manifest.json, then each bundle itself.
   標準ツールでは / With standard tools: unzip, then sha256sum -c SHA256SUMS

2. 構成案件ごとに確認する / Check one member on its own
   unzip {org_id}-evidence.zip cases/KH-….zip
   mamoru evidence verify --bundle cases/KH-….zip
   その ZIP の VERIFY.txt の手順で、単独でも確認できます。
   It verifies on its own, following the VERIFY.txt inside it.
"""


async def export_org_bundle(
    store: Store,
    blobs: BlobStore,
    org: OrgCase,
    out: Path,
    *,
    actor: Person,
    clock: Clock,
    legal_clock: LegalClock | None = None,
    on_member: Callable[[str, Path], Awaitable[object]] | None = None,
) -> OrgExportResult:
    """Write the combined bundle of ``org``'s active members to ``out``.

    Each member is exported with ``export_bundle`` (which also notes the export in its
    timeline); ``on_member(case_id, path)`` sees each member bundle before it is packed
    (the caller archives and anchors it there).
    """
    generated_at = clock.now()
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_partials(out)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.partial")
    results: list[ExportResult] = []
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".org-") as folder:
            for case_id in org.members:
                path = Path(folder) / f"{case_id}.zip"
                result = await export_bundle(
                    store, blobs, case_id, path, actor=actor, clock=clock, legal_clock=legal_clock
                )
                if on_member is not None:
                    await on_member(case_id, path)
                results.append(result)
            await asyncio.to_thread(_pack, partial, results, org.id, generated_at)
        publish(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return OrgExportResult(out, org.id, tuple(results))


def _pack(partial: Path, members: list[ExportResult], org_id: str, at: dt.datetime) -> None:
    with partial.open("wb") as handle:
        zw = ZipStreamWriter(handle, at.astimezone(JST).timetuple()[:6])
        w = HashingZipWriter(zw)
        listed: list[dict[str, Any]] = []
        for result in members:
            name = member_path(result.case_id)
            # Stored as is: the member's bytes (and hash) are the bundle it was exported as.
            with w.member(name, compress=False) as member, result.path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    member.write_bytes(chunk)
            listed.append(
                {
                    "case_id": result.case_id,
                    "path": name,
                    "sha256": w.documents[name],
                    "size": result.path.stat().st_size,
                    "chain": {"count": result.count, "head": result.head},
                }
            )
        with w.member(ORG_VERIFY) as member:
            member.write(org_verify_text(org_id, members, at))
        manifest = {
            "format": ORG_BUNDLE_FORMAT,
            "version": ORG_BUNDLE_VERSION,
            "org_case": org_id,
            "generated_at": iso_utc(at),
            "members": listed,
            "documents": [{"path": ORG_VERIFY, "sha256": w.documents[ORG_VERIFY]}],
        }
        with w.member(ORG_MANIFEST) as member:
            member.write(json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1))
        with w.member(SUMS) as member:
            for name in (*(m["path"] for m in listed), ORG_VERIFY, ORG_MANIFEST):
                member.write(f"{w.documents[name]}  {name}\n")
        zw.close()
        handle.flush()
        os.fsync(handle.fileno())


# --- Verifying


@dataclass(frozen=True, slots=True)
class OrgVerification:
    """The outcome for a combined bundle: each member's, and the first problem found."""

    org_case: str
    members: tuple[Verification, ...] = ()
    problem: str | None = None
    files: int = 0  # evidence files verified across the members

    @property
    def ok(self) -> bool:
        """Whether the whole and every member verified."""
        return self.problem is None and all(m.ok for m in self.members)


def _read_all(reader: ZipReader, member: Member, limit: int) -> bytes:
    if member.size > limit:
        raise BundleError(f"{member.name} is larger than {limit:,} bytes")
    return b"".join(reader.read(member))


def _copy_hashing(reader: ZipReader, member: Member, target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in reader.read(member):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _contiguous(reader: ZipReader, members: list[Member]) -> Iterator[str]:
    # Members back to back from offset 0 up to the directory: no hidden or shared bytes.
    position = 0
    for member in members:
        if member.offset != position:
            yield f"{member.name}: does not start where the previous member ends"
            return
        _, position = reader.data_span(member)
    if position != reader.directory_offset:
        yield "data hidden between the last member and the central directory"


def verify_org_bundle(path: Path) -> OrgVerification:
    """Verify a combined bundle: layout, org manifest, SHA256SUMS, then each member bundle."""
    with ZipReader(path) as reader:
        try:
            return _check(reader)
        except ZipDamaged as exc:
            return OrgVerification("", problem=f"{exc} (changed inside the ZIP)")
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"{ORG_MANIFEST} is malformed: {type(exc).__name__}") from None


def _check(reader: ZipReader) -> OrgVerification:
    members: list[Member] = []
    total = 0
    for member in reader.members():
        total += member.size
        problem = member_problem(member, total)
        if problem:
            return OrgVerification("", problem=problem)
        members.append(member)
        if len(members) > MAX_MEMBERS + 3:
            return OrgVerification("", problem="too many files for a combined bundle")
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        return OrgVerification("", problem="duplicate member name")
    by_name = {m.name: m for m in members}
    if ORG_MANIFEST not in by_name:
        raise BundleError(f"the file has no {ORG_MANIFEST}: not a combined bundle")
    manifest = json.loads(_read_all(reader, by_name[ORG_MANIFEST], MAX_ORG_MANIFEST_BYTES))
    if manifest.get("format") != ORG_BUNDLE_FORMAT or manifest.get("version") != ORG_BUNDLE_VERSION:
        raise BundleError(f"{ORG_MANIFEST} is not a Mamoru combined bundle manifest")
    org_id = str(manifest["org_case"])
    if not is_org_case_id(org_id):
        return OrgVerification("", problem=f"{ORG_MANIFEST} names no organisational case")

    def fail(problem: str, done: tuple[Verification, ...] = ()) -> OrgVerification:
        return OrgVerification(org_id, done, problem)

    listed = manifest["members"]
    documents = {str(d["path"]): str(d["sha256"]) for d in manifest["documents"]}
    expected = [str(m["path"]) for m in listed] + [*documents, ORG_MANIFEST, SUMS]
    if names != expected:
        extra = [n for n in names if n not in expected]
        missing = [n for n in expected if n not in names]
        if missing:
            return fail(f"{missing[0]} is missing")
        if extra:
            return fail(f"{extra[0]} is not part of the bundle (unexpected file)")
        return fail("the files are not in the order the bundle is written")
    for problem in _contiguous(reader, members):
        return fail(problem)
    hashes: dict[str, str] = {}
    for name, sha in documents.items():
        hashes[name] = hashlib.sha256(_read_all(reader, by_name[name], 1 << 20)).hexdigest()
        if hashes[name] != sha:
            return fail(f"{name} was changed (SHA-256 differs from {ORG_MANIFEST})")
    hashes[ORG_MANIFEST] = hashlib.sha256(b"".join(reader.read(by_name[ORG_MANIFEST]))).hexdigest()
    done: list[Verification] = []
    with tempfile.TemporaryDirectory(prefix="mamoru-verify-") as folder:
        for entry in listed:
            name, case_id = str(entry["path"]), str(entry["case_id"])
            match = _MEMBER_PATH.match(name)
            if match is None or match[1] != case_id:
                return fail(f"{name}: not where the bundle of {case_id} belongs", tuple(done))
            target = Path(folder) / f"{case_id}.zip"
            hashes[name] = _copy_hashing(reader, by_name[name], target)
            if hashes[name] != entry["sha256"]:
                return fail(
                    f"{name} was changed (SHA-256 differs from {ORG_MANIFEST})", tuple(done)
                )
            try:
                result = verify_bundle(target)
            except BundleError as exc:
                return fail(f"{name}: {exc}", tuple(done))
            finally:
                target.unlink(missing_ok=True)
            done.append(result)
            if not result.ok:
                return fail(f"{name}: {result.problem}", tuple(done))
            chain = entry["chain"]
            if result.case_id != case_id or (result.count, result.head) != (
                int(chain["count"]),
                str(chain["head"]),
            ):
                return fail(
                    f"{name}: its chain head differs from the one {ORG_MANIFEST} lists",
                    tuple(done),
                )
    sums = _read_all(reader, by_name[SUMS], 1 << 20).decode("utf-8").splitlines()
    seen: set[str] = set()
    for line in sums:
        sha, sep, name = line.partition("  ")
        if not sep or name not in hashes or name in seen:
            return fail(f"SHA256SUMS lists {name or 'a malformed line'} wrongly", tuple(done))
        if sha != hashes[name]:
            return fail(f"{name} was changed (SHA-256 differs from SHA256SUMS)", tuple(done))
        seen.add(name)
    if seen != set(hashes):
        return fail("SHA256SUMS does not list every file", tuple(done))
    files = sum(m.files for m in done)
    return OrgVerification(org_id, tuple(done), None, files)


__all__ = [
    "ORG_MANIFEST",
    "OrgExportResult",
    "OrgVerification",
    "export_org_bundle",
    "is_org_bundle",
    "member_path",
    "verify_org_bundle",
]
