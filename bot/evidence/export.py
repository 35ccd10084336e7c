"""``export_bundle``: write a case's evidence bundle (see ``bot.evidence.bundle``).

Everything streams from the store in several passes (files, CSV, report, manifest,
sums), so memory stays flat however many items a case holds. The chain and every file
are verified on the way; a broken case is refused, and the ZIP is written under a
temporary name and renamed only when complete, so no half-written bundle is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import errno
import glob
import hashlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.domain.errors import ChainBroken
from bot.domain.evidence import (
    GENESIS_HASH,
    ChainVerifier,
    EmailItem,
    EvidenceRecord,
    NoteItem,
    SnsPostItem,
    decode,
    iso_utc,
)
from bot.domain.incidents import JST, EventKind, IncidentType, Person, TimelineEvent
from bot.domain.ports import BlobStore, Clock, Store
from bot.domain.sns import LegalClock
from bot.evidence import report
from bot.evidence.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    CSV,
    MANIFEST,
    MANIFEST_CLOSE,
    REPORT,
    SUMS,
    VERIFY,
    bundle_files,
    manifest_entry,
    manifest_header,
)
from bot.evidence.sns_packets import sns_documents
from bot.evidence.zipstream import ZipStreamWriter

log = logging.getLogger(__name__)
CHAIN_RULE = (
    "hash = SHA-256(prev_hash || entry): prev_hash as 64 lowercase hex ASCII characters "
    "(64 zeros before the first entry), entry as the UTF-8 bytes of its canonical JSON "
    "(keys sorted, no whitespace, no floats, times ISO-8601 UTC)"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was exported."""

    path: Path
    case_id: str
    count: int
    head: str
    files: int


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...


class _Member:
    """A ZIP member being written, hashed on the way, with a small write buffer."""

    def __init__(self, raw: _Sink) -> None:
        self._raw = raw
        self._sha = hashlib.sha256()
        self._buffer: list[bytes] = []
        self._size = 0

    def write(self, text: str) -> None:
        """Write text as UTF-8 (this is what ``csv.writer`` calls)."""
        self.write_bytes(text.encode("utf-8"))

    def write_bytes(self, data: bytes) -> None:
        """Write bytes."""
        self._sha.update(data)
        self._buffer.append(data)
        self._size += len(data)
        if self._size >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered bytes to the ZIP stream."""
        self._raw.write(b"".join(self._buffer))
        self._buffer.clear()
        self._size = 0

    def hexdigest(self) -> str:
        """SHA-256 of everything written."""
        return self._sha.hexdigest()


class HashingZipWriter:
    """A ZIP written member by member, keeping the SHA-256 of each document written."""

    def __init__(self, zw: ZipStreamWriter) -> None:
        self.zw = zw
        self.documents: dict[str, str] = {}

    @contextmanager
    def member(
        self, name: str, *, compress: bool = True, evidence_file: bool = False
    ) -> Iterator[_Member]:
        with self.zw.open(name, compress=compress) as raw:
            member = _Member(raw)
            yield member
            member.flush()
        # Evidence files' hashes come from the chain itself; keeping one per mail here
        # would make memory grow with the case (100,000 mails: ~16 MB).
        if not evidence_file:
            self.documents[name] = member.hexdigest()


def _csv_text(value: str) -> str:
    # Cells starting like a formula would run in Excel (CSV injection from a hostile
    # subject); a leading apostrophe keeps them text. The exact values are in manifest.json.
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_row(record: EvidenceRecord, entry_hash: str, prev: str, files: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    item = record.item
    who = what = text = message_id = immutable_id = ""
    if isinstance(item, EmailItem):
        who, what = item.sender, item.subject
        message_id, immutable_id = item.internet_message_id, item.immutable_id
    elif isinstance(item, SnsPostItem):
        who, what, text = f"{item.platform} {item.account}", item.url, item.text
    elif isinstance(item, NoteItem):
        text = item.text
    row = [
        str(record.seq),
        report.KIND_JA.get(record.kind, record.kind),
        report.jst(report.occurred_at(record)),
        iso_utc(record.recorded_at),
        record.recorded_by.display_name,
        who,
        what,
        text,
        message_id,
        immutable_id,
        " ".join(p for p, _ in files),
        " ".join(s for _, s in files),
        entry_hash,
        prev,
    ]
    return [_csv_text(v) for v in row]


CSV_HEADER = [
    "番号", "種類", "発生日時(日本時間)", "記録日時(UTC)", "記録者", "送信者・アカウント",
    "件名・URL", "本文・内容", "Internet-Message-ID", "Immutable-ID", "ファイル", "SHA-256",
    "ハッシュ", "直前のハッシュ",
]  # fmt: skip


def verify_text(case_id: str, count: int, head: str, generated_at: dt.datetime) -> str:
    """The VERIFY.txt of a bundle (Japanese, then English)."""
    zip_name = f"{case_id}.zip"
    return f"""証拠バンドルの確認方法 / How to verify this evidence bundle
================================================================
事案番号 / Case:            {case_id}
証拠の件数 / Items:         {count}
チェーンの先頭ハッシュ / Chain head:
  {head}
出力日時 / Exported at:     {report.jst(generated_at)} JST

1. 標準ツールでファイルを確認する / Check every file with standard tools
   unzip {zip_name} -d bundle && cd bundle
   sha256sum -c SHA256SUMS              (macOS: shasum -a 256 -c SHA256SUMS)
   すべての行が「OK」であれば、各ファイルは出力時から変更されていません。
   Every line must say OK. (Windows: Get-FileHash -Algorithm SHA256 <file>)

2. ハッシュチェーンを確認する / Check the hash chain
   mamoru evidence verify --bundle {zip_name}
   manifest.json の各証拠について、ハッシュ・順序・添付ファイルを再計算します。
   It recomputes every entry's hash, the order and every attached file.
   Rule: {CHAIN_RULE}.

3. 先頭ハッシュを照合する / Compare the chain head
   上記の先頭ハッシュを、送付元が別の経路（文書・電話など）で伝えた値と照合してください。
   一致すれば、このバンドルの証拠は送付元の記録と同一で、欠落・追加・改ざんはありません。
   Compare the head above with the value the sender gave you by another channel
   (letter, phone). If they match, no item was removed, added, reordered or altered.
"""


async def _records(
    store: Store, case_id: str, upto: int
) -> AsyncIterator[tuple[EvidenceRecord, list[tuple[str, str]]]]:
    """The case's records with their bundle paths (streamed again, flat memory)."""
    async for entry in store.iter_evidence(case_id, upto=upto):
        record = decode(entry)
        yield record, [(p, r.sha256) for p, r in bundle_files(record)]


STALE_PARTIAL = dt.timedelta(hours=1)  # a partial this old belongs to a dead export


def clean_stale_partials(out: Path, *, older_than: dt.timedelta = STALE_PARTIAL) -> int:
    """Remove temporary files of exports to ``out`` left by killed processes; how many."""
    limit = time.time() - older_than.total_seconds()
    removed = 0
    for candidate in [
        *out.parent.glob(f".{glob.escape(out.name)}.*.partial"),
        out.with_name(out.name + ".partial"),  # the name earlier versions used
    ]:
        with contextlib.suppress(FileNotFoundError):
            if candidate.stat().st_mtime < limit:
                candidate.unlink()
                removed += 1
    return removed


def publish(partial: Path, out: Path) -> None:
    """Give the finished file its name, atomically, never replacing an existing ``out``.

    A hard link fails with ``FileExistsError`` if ``out`` appeared meanwhile (another
    export, a file handed over earlier): the check and the rename are one step.
    """
    try:
        os.link(partial, out)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # A filesystem without hard links: the best it allows (check, then rename).
        if out.exists():
            raise FileExistsError(errno.EEXIST, "already exists", str(out)) from None
        os.replace(partial, out)
        return
    partial.unlink()


async def export_bundle(
    store: Store,
    blobs: BlobStore,
    case_id: str,
    out: Path,
    *,
    actor: Person,
    clock: Clock,
    legal_clock: LegalClock | None = None,
) -> ExportResult:
    """Write the evidence bundle of ``case_id`` to ``out`` (a .zip) and log it in the timeline.

    ``legal_clock``: the access-log thresholds the SNS legal packet uses (default 60/90 days).
    """
    incident = await store.load_incident(case_id)
    head = await store.evidence_head(case_id)
    generated_at = clock.now()
    upto = head.count
    # Our own temporary name: two exports to the same file never write into one partial.
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.partial")
    clean_stale_partials(out)
    files = 0
    try:
        with partial.open("wb") as handle:
            zw = ZipStreamWriter(handle, generated_at.astimezone(JST).timetuple()[:6])
            w = HashingZipWriter(zw)
            verifier = ChainVerifier(case_id)
            agg = report.Aggregates()
            async for entry in store.iter_evidence(case_id, upto=upto):
                if verifier.feed(entry) is not None:
                    break
                record = decode(entry)
                agg.add(record)
                for path, ref in bundle_files(record):
                    with w.member(path, compress=ref.role == "eml", evidence_file=True) as member:
                        async for chunk in blobs.chunks(ref.sha256):  # verified on read
                            # Hashing and deflating in a thread: the event loop keeps
                            # answering Teams while a large bundle is written.
                            await asyncio.to_thread(member.write_bytes, chunk)
                    files += 1
            result = verifier.finish(head)
            if result.problem is not None:
                raise ChainBroken(case_id, result.problem.seq, result.problem.reason)

            with w.member(CSV) as member:
                member.write("\ufeff")  # BOM: Excel in Japan then reads UTF-8 correctly
                writer = csv.writer(member, lineterminator="\r\n")
                writer.writerow(CSV_HEADER)
                async for entry in store.iter_evidence(case_id, upto=upto):
                    record = decode(entry)
                    paths = [(p, r.sha256) for p, r in bundle_files(record)]
                    writer.writerow(_csv_row(record, entry.hash, entry.prev_hash, paths))

            with w.member(REPORT) as member:
                report.write_head(member.write, incident, head.count, head.hash, generated_at)
                report.write_counts(member.write, agg)
                report.write_table_start(member.write, head.count)
                async for entry in store.iter_evidence(case_id, upto=min(upto, report.TABLE_LIMIT)):
                    record = decode(entry)
                    paths = [(p, r.sha256) for p, r in bundle_files(record)]
                    report.write_table_row(member.write, record, paths)
                report.write_end(member.write)

            with w.member(VERIFY) as member:
                member.write(verify_text(case_id, head.count, head.hash, generated_at))

            # SNS cases: the spread chart, the legal packet and the police packet (issue 6).
            extra: list[str] = []
            if incident.type is IncidentType.SNS_DEFAMATION:
                documents = await sns_documents(
                    incident,
                    _records(store, case_id, upto),
                    count=head.count,
                    head=head.hash,
                    generated_at=generated_at,
                    clock=legal_clock,
                )
                for name, content in documents:
                    with w.member(name) as member:
                        member.write(content)
                    extra.append(name)

            header = {
                "format": BUNDLE_FORMAT,
                "version": BUNDLE_VERSION,
                "case_id": case_id,
                "generated_at": iso_utc(generated_at),
                "chain": {
                    "rule": CHAIN_RULE,
                    "genesis": GENESIS_HASH,
                    "count": head.count,
                    "head": head.hash,
                },
                "documents": [
                    {"path": name, "sha256": w.documents[name]}
                    for name in (REPORT, CSV, VERIFY, *extra)
                ],
            }
            with w.member(MANIFEST) as member:
                member.write(manifest_header(header))
                first = True
                async for entry in store.iter_evidence(case_id, upto=upto):
                    paths = [(p, r.sha256) for p, r in bundle_files(decode(entry))]
                    line = manifest_entry(
                        entry.seq, entry.prev_hash, entry.hash, entry.entry, paths
                    )
                    member.write(("" if first else ",\n") + line)
                    first = False
                member.write("\n" + MANIFEST_CLOSE + "\n")

            with w.member(SUMS) as member:
                async for entry in store.iter_evidence(case_id, upto=upto):
                    for path, ref in bundle_files(decode(entry)):
                        member.write(f"{ref.sha256}  {path}\n")
                for name in (REPORT, CSV, VERIFY, *extra, MANIFEST):
                    member.write(f"{w.documents[name]}  {name}\n")
            zw.close()
            handle.flush()
            os.fsync(handle.fileno())  # durable before it gets its final name
        publish(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    await store.add_event(
        case_id,
        TimelineEvent(
            at=generated_at,
            actor=actor,
            kind=EventKind.EXPORTED,
            note=f"{head.count}件 head={head.hash}",
        ),
    )
    log.info("exported %s: %d items, %d files", case_id, head.count, files)
    return ExportResult(out, case_id, head.count, head.hash, files)
