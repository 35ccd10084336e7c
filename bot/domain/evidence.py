"""The evidence log of a case: items, their canonical JSON and the hash chain.

Each stored entry is a JSON document ``{"v", "case_id", "seq", "kind", "recorded_at",
"recorded_by", "data"}`` in *canonical JSON*: keys sorted, UTF-8 (no ``\\u`` escapes
for non-ASCII), no whitespace, times as ISO-8601 UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
no floats. Its hash is ``SHA-256(prev_hash || canonical JSON)`` where ``prev_hash``
is the previous entry's hash as 64 lowercase hex ASCII characters (64 zeros for the
first entry). Because ``case_id`` and ``seq`` are inside the hashed document, moving,
reordering or re-assigning an entry breaks the chain just like editing it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.domain.errors import InvalidEvidence
from bot.domain.incidents import Person

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class EvidenceKind(StrEnum):
    """What an evidence item is."""

    EMAIL = "email"
    SNS_POST = "sns_post"
    NOTE = "note"
    STATEMENT = "statement"


def _check_sha(value: str) -> str:
    if not _SHA_RE.match(value):
        raise InvalidEvidence("a SHA-256 must be 64 lowercase hex characters")
    return value


def iso_utc(value: dt.datetime) -> str:
    """``value`` as canonical ISO-8601 UTC text; naive times are refused (ambiguous)."""
    if value.tzinfo is None:
        raise InvalidEvidence("evidence times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime(_TIME_FORMAT)


def parse_utc(value: str) -> dt.datetime:
    """The inverse of ``iso_utc``."""
    return dt.datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class EmailItem:
    """An archived email; the .eml bytes are in the blob store under ``mime_sha256``."""

    immutable_id: str
    internet_message_id: str
    received_at: dt.datetime
    sender: str
    subject: str
    mime_sha256: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Screenshot:
    """One screenshot file of an SNS post, stored in the blob store under ``sha256``."""

    sha256: str
    filename: str
    media_type: str = "image/png"


@dataclass(frozen=True, slots=True)
class SnsPostItem:
    """A captured SNS post."""

    url: str
    platform: str
    account: str
    captured_at: dt.datetime
    posted_at: dt.datetime | None = None
    text: str = ""
    screenshots: tuple[Screenshot, ...] = ()


@dataclass(frozen=True, slots=True)
class NoteItem:
    """A note, or a staff statement (``statement=True``) about what happened."""

    text: str
    statement: bool = False


EvidenceItem = EmailItem | SnsPostItem | NoteItem


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file an item refers to: its SHA-256, its role and a suggested file name."""

    sha256: str
    role: str  # "eml" | "screenshot"
    name: str


def kind_of(item: EvidenceItem) -> EvidenceKind:
    """The kind of ``item``."""
    match item:
        case EmailItem():
            return EvidenceKind.EMAIL
        case SnsPostItem():
            return EvidenceKind.SNS_POST
        case NoteItem(statement=True):
            return EvidenceKind.STATEMENT
        case NoteItem():
            return EvidenceKind.NOTE


def dedup_key(item: EvidenceItem) -> str | None:
    """The key that makes appending ``item`` idempotent (the mail's immutable id), if any."""
    return item.immutable_id if isinstance(item, EmailItem) else None


def item_data(item: EvidenceItem) -> dict[str, Any]:
    """The ``data`` part of the entry document for ``item`` (validates hashes and times)."""
    match item:
        case EmailItem():
            return {
                "immutable_id": item.immutable_id,
                "internet_message_id": item.internet_message_id,
                "received_at": iso_utc(item.received_at),
                "sender": item.sender,
                "subject": item.subject,
                "mime_sha256": _check_sha(item.mime_sha256),
                "mailbox": item.mailbox,
            }
        case SnsPostItem():
            return {
                "url": item.url,
                "platform": item.platform,
                "account": item.account,
                "captured_at": iso_utc(item.captured_at),
                "posted_at": iso_utc(item.posted_at) if item.posted_at else None,
                "text": item.text,
                "screenshots": [
                    {
                        "sha256": _check_sha(s.sha256),
                        "filename": s.filename,
                        "media_type": s.media_type,
                    }
                    for s in item.screenshots
                ],
            }
        case NoteItem():
            return {"text": item.text}


def item_from_data(kind: str, data: Mapping[str, Any]) -> EvidenceItem:
    """The item described by an entry document's ``kind`` and ``data``."""
    try:
        if kind == EvidenceKind.EMAIL:
            return EmailItem(
                immutable_id=data["immutable_id"],
                internet_message_id=data["internet_message_id"],
                received_at=parse_utc(data["received_at"]),
                sender=data["sender"],
                subject=data["subject"],
                mime_sha256=data["mime_sha256"],
                mailbox=data["mailbox"],
            )
        if kind == EvidenceKind.SNS_POST:
            posted = data["posted_at"]
            return SnsPostItem(
                url=data["url"],
                platform=data["platform"],
                account=data["account"],
                captured_at=parse_utc(data["captured_at"]),
                posted_at=parse_utc(posted) if posted else None,
                text=data["text"],
                screenshots=tuple(Screenshot(**s) for s in data["screenshots"]),
            )
        if kind in (EvidenceKind.NOTE, EvidenceKind.STATEMENT):
            return NoteItem(text=data["text"], statement=kind == EvidenceKind.STATEMENT)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvidence(f"malformed {kind} data: {type(exc).__name__}") from exc
    raise InvalidEvidence(f"unknown evidence kind: {kind!r}")


def file_refs(item: EvidenceItem) -> tuple[FileRef, ...]:
    """The files ``item`` refers to, in a fixed order."""
    match item:
        case EmailItem():
            return (FileRef(item.mime_sha256, "eml", "message.eml"),)
        case SnsPostItem():
            return tuple(FileRef(s.sha256, "screenshot", s.filename) for s in item.screenshots)
        case NoteItem():
            return ()


def _reject_floats(value: object) -> None:
    # Floats have several valid JSON spellings; refusing them keeps the bytes unique.
    if isinstance(value, float):
        raise InvalidEvidence("floats are not allowed in evidence documents")
    if isinstance(value, dict):
        for v in value.values():
            _reject_floats(v)
    elif isinstance(value, list):
        for v in value:
            _reject_floats(v)


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of ``document`` (sorted keys, UTF-8, no whitespace)."""
    _reject_floats(dict(document))
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """``SHA-256(prev_hash || canonical)`` as lowercase hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class SealedEntry:
    """One entry as stored: the canonical document text and the chain hashes."""

    case_id: str
    seq: int
    kind: str
    entry: str  # canonical JSON text of the document
    prev_hash: str
    hash: str
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """A decoded entry: the item plus who recorded it and when."""

    case_id: str
    seq: int
    recorded_at: dt.datetime
    recorded_by: Person
    item: EvidenceItem
    hash: str

    @property
    def kind(self) -> EvidenceKind:
        """The kind of the item."""
        return kind_of(self.item)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry of a chain: how many entries and the last hash."""

    count: int
    hash: str


def seal(
    *,
    case_id: str,
    seq: int,
    prev_hash: str,
    recorded_at: dt.datetime,
    recorded_by: Person,
    item: EvidenceItem,
) -> SealedEntry:
    """Entry number ``seq`` of ``case_id``, chained after ``prev_hash``."""
    document = {
        "v": FORMAT_VERSION,
        "case_id": case_id,
        "seq": seq,
        "kind": str(kind_of(item)),
        "recorded_at": iso_utc(recorded_at),
        "recorded_by": {
            "object_id": recorded_by.object_id,
            "display_name": recorded_by.display_name,
        },
        "data": item_data(item),
    }
    canonical = canonical_json(document)
    return SealedEntry(
        case_id=case_id,
        seq=seq,
        kind=str(kind_of(item)),
        entry=canonical.decode("utf-8"),
        prev_hash=_check_sha(prev_hash),
        hash=chain_hash(prev_hash, canonical),
        dedup_key=dedup_key(item),
    )


def decode(entry: SealedEntry) -> EvidenceRecord:
    """The record inside a stored entry (does not verify the chain)."""
    try:
        document = json.loads(entry.entry)
        by = document["recorded_by"]
        return EvidenceRecord(
            case_id=document["case_id"],
            seq=document["seq"],
            recorded_at=parse_utc(document["recorded_at"]),
            recorded_by=Person(by["object_id"], by["display_name"]),
            item=item_from_data(document["kind"], document["data"]),
            hash=entry.hash,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvidence(f"entry {entry.seq} is malformed: {type(exc).__name__}") from exc


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first broken entry of a chain and why."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying a chain."""

    case_id: str
    count: int
    head: str
    problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        """Whether the chain verified."""
        return self.problem is None


class ChainVerifier:
    """Checks a chain entry by entry, so a 100,000-entry log is verified in flat memory."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.count = 0
        self.head = GENESIS_HASH
        self.problem: ChainProblem | None = None

    def feed(self, entry: SealedEntry) -> ChainProblem | None:
        """Check the next entry; returns (and keeps) the first problem found."""
        if self.problem is None:
            reason = self._check(entry)
            if reason is None:
                self.count += 1
                self.head = entry.hash
            else:
                self.problem = ChainProblem(entry.seq, reason)
        return self.problem

    def _check(self, entry: SealedEntry) -> str | None:
        expected_seq = self.count + 1
        if entry.seq != expected_seq:
            return f"expected entry {expected_seq} here, found {entry.seq} (missing or reordered)"
        if entry.prev_hash != self.head:
            return "previous-hash link does not match the entry before it"
        try:
            document = json.loads(entry.entry)
            canonical = canonical_json(document)
        except (ValueError, InvalidEvidence):
            return "entry is not valid canonical JSON"
        if canonical.decode("utf-8") != entry.entry:
            return "entry is not in canonical form (it was rewritten)"
        if document.get("case_id") != self.case_id or entry.case_id != self.case_id:
            return "entry belongs to another case"
        if document.get("seq") != entry.seq or document.get("kind") != entry.kind:
            return "entry's sequence number or kind differs from its row"
        if chain_hash(entry.prev_hash, canonical) != entry.hash:
            return "hash does not match the entry's content (content changed)"
        try:
            record = decode(entry)
        except InvalidEvidence:
            return "entry data is malformed"
        if dedup_key(record.item) != entry.dedup_key:
            return "entry's idempotency key differs from its content"
        return None

    def finish(self, expected: ChainHead | None = None) -> VerifyReport:
        """The report; ``expected`` is the head the store recorded (catches truncation)."""
        problem = self.problem
        if (
            problem is None
            and expected is not None
            and expected != ChainHead(self.count, self.head)
        ):
            problem = ChainProblem(
                self.count + 1 if expected.count > self.count else expected.count,
                f"chain ends at entry {self.count} but the recorded head is entry "
                f"{expected.count} with hash {expected.hash}",
            )
        return VerifyReport(self.case_id, self.count, self.head, problem)


def verify_chain(
    case_id: str, entries: Iterable[SealedEntry], expected: ChainHead | None = None
) -> VerifyReport:
    """Verify ``entries`` (in order) as the chain of ``case_id``; names the first broken one."""
    verifier = ChainVerifier(case_id)
    for entry in entries:
        if verifier.feed(entry) is not None:
            break
    return verifier.finish(expected)


# --- Anchors: chain heads copied outside the database (issue 11)


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """A case's chain head as copied, at ``at``, to write-once storage outside the database.

    Whoever controls the database can delete the last entries and lower the recorded
    head consistently; they cannot lower an anchor already written elsewhere.
    """

    case_id: str
    head: ChainHead
    at: dt.datetime

    def to_json(self) -> bytes:
        """The anchor as a small canonical JSON document."""
        document = {
            "format": "mamoru-chain-anchor",
            "v": 1,
            "case_id": self.case_id,
            "count": self.head.count,
            "hash": self.head.hash,
            "at": iso_utc(self.at),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ChainAnchor:
        """Parse ``to_json``'s output; ``InvalidEvidence`` if it is not an anchor."""
        try:
            document = json.loads(data)
            if document.get("format") != "mamoru-chain-anchor":
                raise InvalidEvidence("not a chain anchor")
            head = ChainHead(int(document["count"]), _check_sha(str(document["hash"])))
            return cls(str(document["case_id"]), head, parse_utc(str(document["at"])))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidEvidence(f"malformed chain anchor: {type(exc).__name__}") from None


def anchor_problem(
    verified: ChainHead, anchor: ChainAnchor, hash_at_anchor: str | None
) -> str | None:
    """Why a verified chain contradicts its latest anchor, or None if it extends it.

    ``verified`` is the chain as recomputed from the database; ``hash_at_anchor`` the
    hash of its entry number ``anchor.head.count`` (None if it has no such entry).
    """
    at = iso_utc(anchor.at)
    if verified.count < anchor.head.count:
        return (
            f"the database chain ends at entry {verified.count}, but the anchor written "
            f"{at} outside the database records entry {anchor.head.count} "
            f"(hash {anchor.head.hash}): entries were deleted (truncation)"
        )
    if hash_at_anchor != anchor.head.hash:
        return (
            f"entry {anchor.head.count} differs from the anchor written {at} outside the "
            f"database (hash {anchor.head.hash}): the chain was rewritten"
        )
    return None
