"""Verification of a case's evidence (from the store) and of an export bundle (a ZIP).

Both stream: entries are checked one by one and every referenced file is re-hashed.
The first problem found is reported with the entry number or file name it concerns.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from bot.domain.errors import (
    BlobCorrupted,
    BlobNotFound,
    BundleError,
    IncidentNotFound,
    InvalidEvidence,
)
from bot.domain.evidence import (
    GENESIS_HASH,
    ChainAnchor,
    ChainHead,
    ChainProblem,
    ChainVerifier,
    EvidenceKind,
    SealedEntry,
    anchor_problem,
    decode,
    file_refs,
)
from bot.domain.ports import AnchorStore, BlobStore, EvidenceRepository
from bot.evidence.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    MANIFEST,
    MANIFEST_CLOSE,
    SUMS,
    bundle_files,
    parse_manifest_header,
)


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome: ``problem`` is None when everything verified."""

    case_id: str
    count: int
    head: str
    files: int
    problem: str | None = None
    anchor: ChainAnchor | None = None  # the latest anchor outside the database, if any

    @property
    def ok(self) -> bool:
        """Whether everything verified."""
        return self.problem is None


def _describe(problem: ChainProblem) -> str:
    return f"entry {problem.seq}: {problem.reason}"


async def verify_case(
    store: EvidenceRepository,
    blobs: BlobStore,
    case_id: str,
    anchors: AnchorStore | None = None,
) -> Verification:
    """Recompute the chain of ``case_id`` and the hash of every file it refers to.

    With ``anchors``, the chain must also reach and match the latest anchor written
    outside the database: a chain shortened or rewritten by whoever controls the
    database still verifies on its own, but not against its anchor.
    """
    anchor = await anchors.latest_anchor(case_id) if anchors is not None else None
    try:
        head = await store.evidence_head(case_id)
    except IncidentNotFound:
        if anchor is None:
            raise
        problem = anchor_problem(ChainHead(0, GENESIS_HASH), anchor, None)
        return Verification(case_id, 0, GENESIS_HASH, 0, f"the case is gone: {problem}", anchor)
    verifier = ChainVerifier(case_id)
    files = 0
    hash_at_anchor: str | None = None
    async for entry in store.iter_evidence(case_id, upto=head.count):
        if verifier.feed(entry) is not None:
            break
        if anchor is not None and entry.seq == anchor.head.count:
            hash_at_anchor = entry.hash
        for ref in file_refs(decode(entry).item):
            try:
                async for _ in blobs.chunks(ref.sha256):
                    pass
            except BlobNotFound:
                problem = f"entry {entry.seq}: file {ref.sha256} ({ref.role}) is missing"
                return Verification(case_id, verifier.count, verifier.head, files, problem, anchor)
            except BlobCorrupted:
                problem = f"entry {entry.seq}: file {ref.sha256} ({ref.role}) was changed"
                return Verification(case_id, verifier.count, verifier.head, files, problem, anchor)
            files += 1
    report = verifier.finish(head)
    problem_text = _describe(report.problem) if report.problem else None
    if problem_text is None and anchor is not None:
        problem_text = anchor_problem(ChainHead(report.count, report.head), anchor, hash_at_anchor)
    return Verification(case_id, report.count, report.head, files, problem_text, anchor)


def _member_sha(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    try:
        with zf.open(name) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        # Bytes changed inside the ZIP itself (CRC or deflate error): the file was altered.
        return "damaged"
    return digest.hexdigest()


def _sealed(case_id: str, line: str) -> tuple[SealedEntry, list[tuple[str, str]]]:
    obj = json.loads(line)
    document = json.loads(obj["entry"])
    kind = document.get("kind", "")
    key = document.get("data", {}).get("immutable_id") if kind == EvidenceKind.EMAIL else None
    entry = SealedEntry(
        case_id=case_id,
        seq=obj["seq"],
        kind=kind,
        entry=obj["entry"],
        prev_hash=obj["prev_hash"],
        hash=obj["hash"],
        dedup_key=key,
    )
    return entry, [(f["path"], f["sha256"]) for f in obj["files"]]


def _check_chain(zf: zipfile.ZipFile, names: set[str], listed: set[str]) -> Verification:
    with zf.open(MANIFEST) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        header = parse_manifest_header(text.readline())
        if header.get("format") != BUNDLE_FORMAT or header.get("version") != BUNDLE_VERSION:
            raise BundleError("manifest.json is not a Mamoru evidence bundle manifest")
        case_id = str(header["case_id"])
        chain = header["chain"]
        verifier = ChainVerifier(case_id)
        files = 0

        def fail(problem: str) -> Verification:
            return Verification(case_id, verifier.count, verifier.head, files, problem)

        for doc in header["documents"]:
            listed.add(doc["path"])
            if doc["path"] not in names:
                return fail(f"{doc['path']} is missing")
            if _member_sha(zf, doc["path"]) != doc["sha256"]:
                return fail(f"{doc['path']} was changed (SHA-256 differs from manifest.json)")
        for line in text:
            line = line.rstrip("\n")
            if line == MANIFEST_CLOSE:
                break
            entry, files_listed = _sealed(case_id, line.rstrip(","))
            if verifier.feed(entry) is not None:
                break
            expected = [(p, r.sha256) for p, r in bundle_files(decode(entry))]
            if files_listed != expected:
                return fail(f"entry {entry.seq}: its file list differs from its content")
            for path, sha in expected:
                listed.add(path)
                if path not in names:
                    return fail(f"entry {entry.seq}: {path} is missing")
                if _member_sha(zf, path) != sha:
                    return fail(f"entry {entry.seq}: {path} was changed (SHA-256 differs)")
                files += 1
        report = verifier.finish(ChainHead(int(chain["count"]), str(chain["head"])))
        if report.problem is not None:
            return fail(_describe(report.problem))
        return Verification(case_id, report.count, report.head, files)


def _check_sums(zf: zipfile.ZipFile, names: set[str]) -> str | None:
    if SUMS not in names:
        return "SHA256SUMS is missing"
    with zf.open(SUMS) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            sha, sep, path = line.rstrip("\n").partition("  ")
            if not sep:
                return "SHA256SUMS is malformed"
            if path not in names:
                return f"{path} (listed in SHA256SUMS) is missing"
            if _member_sha(zf, path) != sha:
                return f"{path} was changed (SHA-256 differs from SHA256SUMS)"
    return None


def verify_bundle(path: Path) -> Verification:
    """Verify an export bundle: the chain, every file, SHA256SUMS, and nothing extra."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path.name} is not a readable ZIP file: {exc}") from None
    with zf:
        names = set(zf.namelist())
        if MANIFEST not in names:
            raise BundleError(f"{path.name} has no manifest.json: not an evidence bundle")
        listed = {MANIFEST, SUMS}
        try:
            result = _check_chain(zf, names, listed)
        except (ValueError, KeyError, TypeError, InvalidEvidence, zipfile.BadZipFile) as exc:
            raise BundleError(f"manifest.json is malformed: {type(exc).__name__}") from None
        if not result.ok:
            return result
        try:
            problem = _check_sums(zf, names)
        except (UnicodeDecodeError, zipfile.BadZipFile) as exc:
            problem = f"SHA256SUMS is unreadable: {type(exc).__name__}"
        if problem is None and (extra := sorted(names - listed)):
            problem = f"{extra[0]} is not part of the bundle (unexpected file)"
        if problem is not None:
            return Verification(result.case_id, result.count, result.head, result.files, problem)
        return result
