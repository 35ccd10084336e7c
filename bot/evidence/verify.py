"""Verification of a case's evidence (from the store) and of an export bundle (a ZIP).

Both stream: entries are checked one by one and every referenced file is re-hashed.
The first problem found is reported with the entry number or file name it concerns.

A bundle may come from anyone: before anything is read, every member must be a plain
file with a safe relative name (no absolute path, ``..``, backslash, symlink,
directory, encryption) and a bounded size; then the members must appear exactly in the
order the bundle is written, each once (a duplicate name is refused), contiguous, with
lines of bounded length in manifest.json and SHA256SUMS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
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
    member_name_problem,
    parse_manifest_header,
)
from bot.evidence.zipread import Member, ZipDamaged, ZipReader

# Limits for bundles of any origin (module-level so tests can lower them).
MAX_MEMBER_BYTES = 2 << 30  # one member, uncompressed (a mail is at most 150 MB)
MAX_BUNDLE_BYTES = 64 << 30  # all members, uncompressed
MAX_LINE_BYTES = 4 << 20  # one line of manifest.json (one evidence entry)
MAX_SUMS_LINE_BYTES = 4096  # one line of SHA256SUMS
MAX_DOCUMENTS = 16  # report, CSV, VERIFY.txt and the SNS packets


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


# --- Bundles


class _Lines:
    """The lines of a member, read as it inflates, each at most ``limit`` bytes; hashed too."""

    def __init__(self, chunks: Iterator[bytes], name: str, limit: int) -> None:
        self._chunks = chunks
        self._name = name
        self._limit = limit
        self._buffer = b""
        self._digest = hashlib.sha256()
        self._done = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            cut = self._buffer.find(b"\n")
            if cut >= 0:
                line, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
                return self._decode(line)
            if len(self._buffer) > self._limit:
                raise _Refused(f"{self._name} has a line longer than {self._limit:,} bytes")
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._buffer:
                    line, self._buffer = self._buffer, b""
                    return self._decode(line)
                self._done = True
                raise StopIteration
            self._digest.update(chunk)
            self._buffer += chunk

    def _decode(self, line: bytes) -> str:
        if len(line) > self._limit:
            raise _Refused(f"{self._name} has a line longer than {self._limit:,} bytes")
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused(f"{self._name} is not UTF-8 text") from None

    def sha256(self) -> str:
        """The member's SHA-256, once every line has been read."""
        for _ in self:
            pass
        return self._digest.hexdigest()


class _Refused(Exception):
    """The bundle is not one Mamoru wrote, or was altered; the message says where."""


def member_problem(member: Member, total: int) -> str | None:
    """Why a member can never be part of a bundle (checked before anything is read)."""
    if member.is_symlink:
        return f"{member.name}: a symbolic link (a bundle holds files only)"
    if member.is_directory:
        return f"{member.name}: a directory entry (a bundle holds files only)"
    problem = member_name_problem(member.name)
    if problem:
        return f"{member.name!r}: {problem}"
    if member.is_encrypted:
        return f"{member.name}: encrypted"
    if member.method not in (0, 8):
        return f"{member.name}: compression method {member.method} (only stored or deflated)"
    if member.size > MAX_MEMBER_BYTES:
        limit = MAX_MEMBER_BYTES
        return f"{member.name}: {member.size:,} bytes uncompressed, over the {limit:,} limit"
    if total > MAX_BUNDLE_BYTES:
        return f"the bundle inflates to over {MAX_BUNDLE_BYTES:,} bytes"
    return None


def _refused(problem: str) -> Verification:
    """A bundle refused before its manifest was read."""
    return Verification("", 0, GENESIS_HASH, 0, problem)


def _sha(reader: ZipReader, member: Member) -> str:
    """The member's SHA-256 (read once), or "damaged" if its bytes contradict the ZIP."""
    digest = hashlib.sha256()
    try:
        for chunk in reader.read(member):
            digest.update(chunk)
    except ZipDamaged:
        return "damaged"
    return digest.hexdigest()


def _sums_line(line: str) -> tuple[str, str]:
    sha, sep, path = line.partition("  ")
    if not sep or not path:
        raise _Refused("SHA256SUMS is malformed")
    return sha, path


@dataclass
class _Walk:
    """The second pass: the directory, the manifest and SHA256SUMS read side by side."""

    reader: ZipReader
    manifest: Member
    sums: Member
    case_id: str = ""
    files: int = 0
    next_offset: int = 0

    def __post_init__(self) -> None:
        self.directory = self.reader.members()

    def next_member(self) -> Member | None:
        member = next(self.directory, None)
        if member is None:
            return None
        if member.offset != self.next_offset:
            raise _Refused(
                f"{member.name}: does not start where the previous member ends "
                "(overlapping or hidden data)"
            )
        try:
            _, self.next_offset = self.reader.data_span(member)
        except ZipDamaged as exc:
            raise _Refused(str(exc)) from None
        return member


def _check_bundle(reader: ZipReader) -> Verification:
    # Pass 1: every record is a plain file with a safe name and a bounded size, and the
    # layout ends with manifest.json then SHA256SUMS.
    total = 0
    last: list[Member] = []
    manifest_seen = sums_seen = False
    for member in reader.members():
        total += member.size
        problem = member_problem(member, total)
        if problem:
            return _refused(problem)
        manifest_seen = manifest_seen or member.name == MANIFEST
        sums_seen = sums_seen or member.name == SUMS
        last = [*last[-1:], member]
    if not manifest_seen:
        raise BundleError("the file has no manifest.json: not an evidence bundle")
    if not sums_seen:
        return _refused("SHA256SUMS is missing")
    names = [m.name for m in last]
    if names != [MANIFEST, SUMS]:
        stray = names[-1] if names[-1] != SUMS else names[0]
        return _refused(f"{stray} is not part of the bundle (unexpected or duplicate file)")
    manifest_member, sums_member = last
    manifest = _Lines(reader.read(manifest_member), MANIFEST, MAX_LINE_BYTES)
    sums = _Lines(reader.read(sums_member), SUMS, MAX_SUMS_LINE_BYTES)
    try:
        header = parse_manifest_header(next(manifest, ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"manifest.json is malformed: {type(exc).__name__}") from None
    if header.get("format") != BUNDLE_FORMAT or header.get("version") != BUNDLE_VERSION:
        raise BundleError("manifest.json is not a Mamoru evidence bundle manifest")
    walk = _Walk(reader, manifest_member, sums_member, case_id=str(header["case_id"]))
    verifier = ChainVerifier(walk.case_id)

    def fail(problem: str) -> Verification:
        return Verification(walk.case_id, verifier.count, verifier.head, walk.files, problem)

    documents = {str(d["path"]): str(d["sha256"]) for d in header["documents"][: MAX_DOCUMENTS + 1]}
    if len(documents) > MAX_DOCUMENTS or len(documents) != len(header["documents"]):
        return fail("manifest.json lists too many or repeated documents")
    previous = ""
    for line in manifest:
        if line == MANIFEST_CLOSE:
            break
        entry, files_listed = _sealed(walk.case_id, line.rstrip(","))
        if verifier.feed(entry) is not None:
            return fail(_describe(verifier.problem))  # type: ignore[arg-type]
        expected = [(p, r.sha256) for p, r in bundle_files(decode(entry))]
        if files_listed != expected:
            return fail(f"entry {entry.seq}: its file list differs from its content")
        for path, sha in expected:
            member = walk.next_member()
            if member is None or member.index >= walk.manifest.index:
                return fail(f"entry {entry.seq}: {path} is missing")
            if member.name != path:
                if member.name == previous:
                    return fail(f"{member.name}: duplicate member name")
                return fail(
                    f"entry {entry.seq}: {path} is missing (found {member.name} in its place)"
                )
            actual = _sha(reader, member)
            if actual != sha:
                return fail(f"entry {entry.seq}: {path} was changed (SHA-256 differs)")
            listed_sha, listed_path = _sums_line(next(sums, ""))
            if listed_path != path or listed_sha != actual:
                return fail(f"{path} was changed (SHA-256 differs from SHA256SUMS)")
            previous = path
            walk.files += 1
    else:
        return fail("manifest.json is truncated")
    if any(rest.strip() for rest in manifest):
        return fail("manifest.json has data after its end")
    report = verifier.finish(ChainHead(int(header["chain"]["count"]), str(header["chain"]["head"])))
    if report.problem is not None:
        return fail(_describe(report.problem))

    # The documents (report, CSV, VERIFY.txt, SNS packets), in any order, each once.
    hashes: dict[str, str] = {}
    while True:
        member = walk.next_member()
        if member is None or member.index == walk.manifest.index:
            break  # manifest.json: its bytes were hashed while its lines were read
        if member.name in hashes or member.name in (MANIFEST, SUMS) or member.name == previous:
            return fail(f"{member.name}: duplicate member name")
        if member.name not in documents:
            return fail(f"{member.name} is not part of the bundle (unexpected file)")
        hashes[member.name] = _sha(reader, member)
        if hashes[member.name] != documents[member.name]:
            return fail(f"{member.name} was changed (SHA-256 differs from manifest.json)")
    for path in documents:
        if path not in hashes:
            return fail(f"{path} is missing")
    hashes[MANIFEST] = manifest.sha256()
    listed = 0
    for line in sums:
        sha, path = _sums_line(line)
        if path not in hashes:
            return fail(f"{path} (listed in SHA256SUMS) is missing")
        if sha != hashes[path]:
            return fail(f"{path} was changed (SHA-256 differs from SHA256SUMS)")
        listed += 1
    if listed != len(hashes):
        return fail("SHA256SUMS does not list every file")
    # SHA256SUMS itself: right after manifest.json, contiguous, the last member.
    if walk.next_member() is None:
        return fail("SHA256SUMS is missing")
    if walk.next_offset != reader.directory_offset:
        return fail("data hidden between the last member and the central directory")
    return Verification(walk.case_id, report.count, report.head, walk.files)


def verify_bundle(path: Path) -> Verification:
    """Verify an export bundle: the chain, every file, SHA256SUMS, and nothing extra.

    Flat memory whatever the number of items: the ZIP's directory, manifest.json and
    SHA256SUMS are read side by side, in the order the bundle is written, and each
    member is inflated and hashed once.
    """
    with ZipReader(path) as reader:
        try:
            return _check_bundle(reader)
        except _Refused as exc:
            return _refused(str(exc))
        except (ValueError, KeyError, TypeError, InvalidEvidence) as exc:
            raise BundleError(f"manifest.json is malformed: {type(exc).__name__}") from None
        except ZipDamaged as exc:
            return _refused(f"{exc} (changed inside the ZIP)")
