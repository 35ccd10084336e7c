"""Capturing SNS posts as evidence: collect URLs and screenshots, then record them on a case.

``collect`` runs on each chat message: URLs are checked (never fetched), screenshots
are downloaded from the connector, hashed and stored in the blob store, and both
gather in the person's pending capture (kept in the registry, so nothing is lost
between messages or across a restart). ``submit`` records one ``SnsPostItem`` per new
URL on the chosen case; a URL already on the case is linked to its entry instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.domain.access import CaseAction, Viewer, permits
from bot.domain.errors import IncidentNotFound
from bot.domain.evidence import NoteItem, Screenshot, SnsPostItem, decode
from bot.domain.incidents import Incident, IncidentState, IncidentType, Person
from bot.domain.ports import BlobStore, Clock, Directory, Registry, Store
from bot.domain.sns import platform_of, scan_urls
from bot.domain.sns_capture import CaptureResult, CaseChoice, Note, PendingCapture, RecordedPost
from bot.evidence.blobs import sha256_hex
from bot.sns.attachments import AttachmentFetcher, AttachmentRefused, IncomingAttachment
from bot.sns.form import CaptureForm

log = logging.getLogger(__name__)
PENDING = "sns-capture"  # registry kind; key: the person's object id
MAX_PENDING_URLS = 20
MAX_PENDING_SHOTS = 10
_CLOSED = {IncidentState.CLOSED, IncidentState.REJECTED}
# Attachments Teams adds next to a pasted image or card: not files the user sent.
_IGNORED_TYPES = ("text/html", "application/vnd.microsoft.card.")


class NothingToRecord(Exception):
    """The submission would record nothing; ``key`` names the message for the card."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class SnsCapture:
    """The capture of SNS posts into cases' evidence logs."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        blobs: BlobStore,
        fetcher: AttachmentFetcher,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._blobs = blobs
        self._fetcher = fetcher
        self._clock = clock
        self._directory: Directory | None = None

    @property
    def max_image_mb(self) -> int:
        """The image size limit in MB (for messages)."""
        return self._fetcher.max_bytes // (1024 * 1024)

    async def pending(self, person: Person) -> PendingCapture:
        """The person's capture in progress (empty if none)."""
        value = await self._registry.get(PENDING, person.object_id)
        if value and value.get("started_at"):
            return PendingCapture.from_json(value)
        return PendingCapture(started_at=self._clock.now())

    async def discard(self, person: Person) -> None:
        """Forget the person's capture in progress (after recording it)."""
        await self._registry.put(PENDING, person.object_id, {})

    async def collect(
        self,
        person: Person,
        text: str,
        attachments: Sequence[IncomingAttachment],
        service_url: str,
    ) -> tuple[PendingCapture, list[Note]]:
        """Add the message's URLs and screenshots to the person's pending capture."""
        pending = await self.pending(person)
        notes: list[Note] = []
        scan = scan_urls(text)
        for piece, reason in scan.refused:
            notes.append(Note(f"sns.url.{reason}", {"text": piece}))
        urls = list(pending.urls)
        for url in scan.urls:
            if url in urls:
                notes.append(Note("sns.url.again", {"url": url}))
            elif len(urls) < MAX_PENDING_URLS:
                urls.append(url)
        shots = list(pending.screenshots)
        # The limit is checked before anything is downloaded: a message with hundreds of
        # attachments costs at most the free slots' downloads, never more.
        downloads_left = MAX_PENDING_SHOTS - len(shots)
        for attachment in attachments:
            if attachment.content_type.lower().startswith(_IGNORED_TYPES):
                continue
            if downloads_left <= 0 or len(shots) >= MAX_PENDING_SHOTS:
                notes.append(Note("sns.shot.too_many", {"max": str(MAX_PENDING_SHOTS)}))
                break
            downloads_left -= 1
            name = attachment.name or "screenshot"
            try:
                downloaded = await self._fetcher.fetch(attachment, service_url)
            except AttachmentRefused as refused:
                notes.append(
                    Note(
                        f"sns.refused.{refused.reason}",
                        {"name": name[:80], "mb": str(self.max_image_mb)},
                    )
                )
                continue
            sha = sha256_hex(downloaded.data)
            if any(s.sha256 == sha for s in shots):
                notes.append(Note("sns.shot.again", {"sha": sha[:12]}))
                continue
            await self._blobs.put(downloaded.data)
            filename = f"screenshot-{len(shots) + 1}-{sha[:12]}.{downloaded.extension}"
            shots.append(Screenshot(sha, filename, downloaded.media_type))
            notes.append(Note("sns.shot.saved", {"sha": sha[:12]}))
        pending = replace(pending, urls=tuple(urls), screenshots=tuple(shots))
        await self._registry.put(PENDING, person.object_id, pending.to_json())
        log.info(
            "sns capture: %d urls, %d screenshots pending, %d notes",
            len(pending.urls),
            len(pending.screenshots),
            len(notes),
        )
        return pending, notes

    def allow_managers(self, directory: Directory) -> None:
        """Resolve people's roles here: managers capture for their departments' staff."""
        self._directory = directory

    async def _viewer(self, person: Person) -> Viewer:
        # A manager may capture on a staff member's behalf: their departments' cases too.
        if self._directory:
            return await self._directory.viewer(person.object_id)
        return Viewer(object_id=person.object_id)

    async def open_cases(self, person: Person) -> list[CaseChoice]:
        """The open SNS cases the person may add to (a manager: the department's), newest first."""
        viewer = await self._viewer(person)
        incidents = await self._store.list_incidents(viewer, limit=50)
        return [
            CaseChoice(i.id, i.summary, i.created_at)
            for i in incidents
            if i.type is IncidentType.SNS_DEFAMATION and i.state not in _CLOSED
        ]

    async def case_for(self, person: Person, case_id: str) -> Incident:
        """The open SNS case ``case_id`` if ``person`` may add to it; else ``IncidentNotFound``."""
        incident = await self._store.load_incident(case_id)
        if not permits(await self._viewer(person), incident, CaseAction.ADD_EVIDENCE):
            raise IncidentNotFound(case_id)  # the same answer as for a case that does not exist
        if incident.type is not IncidentType.SNS_DEFAMATION or incident.state in _CLOSED:
            raise IncidentNotFound(case_id)
        return incident

    async def recorded_posts(self, case_id: str) -> dict[str, RecordedPost]:
        """The posts already on the case, by URL (first entry of each URL)."""
        found: dict[str, RecordedPost] = {}
        async for entry in self._store.iter_evidence(case_id):
            item = decode(entry).item
            if isinstance(item, SnsPostItem) and item.url not in found:
                found[item.url] = RecordedPost(
                    entry.seq, item.url, platform_of(item.url), item.posted_at, item.screenshots
                )
        return found

    async def spread(self, incident: Incident) -> tuple[int, int]:
        """How many posts are recorded for the case, and on how many platforms."""
        if incident.type is not IncidentType.SNS_DEFAMATION:
            # Posts are recorded on SNS cases only (``case_for``): nothing to read.
            return 0, 0
        posts = await self.recorded_posts(incident.id)
        return len(posts), len({post.platform for post in posts.values()})

    async def submit(self, person: Person, form: CaptureForm) -> CaptureResult:
        """Record the pending capture on ``form.case``; raises ``NothingToRecord``."""
        incident = await self.case_for(person, form.case)
        pending = await self.pending(person)
        if not pending.urls:
            raise NothingToRecord("sns.form.no_url")
        known = await self.recorded_posts(incident.id)
        known_shots = {s.sha256: p.seq for p in known.values() for s in p.screenshots}
        notes: list[Note] = []
        shots = []
        for shot in pending.screenshots:
            if shot.sha256 in known_shots:
                notes.append(
                    Note(
                        "sns.shot.on_case",
                        {"sha": shot.sha256[:12], "seq": str(known_shots[shot.sha256])},
                    )
                )
            else:
                shots.append(shot)
        new_urls = [u for u in pending.urls if u not in known]
        if not new_urls and shots:
            # Nothing lost: the screenshots stay pending until a new post URL comes with them.
            raise NothingToRecord("sns.form.shots_need_new_url")
        captured_at = pending.started_at
        items = [
            SnsPostItem(
                url=url,
                platform=platform_of(url).value,
                account=form.account,
                captured_at=captured_at,
                posted_at=form.posted_at(),
                text=form.evidence_text(),
                screenshots=tuple(shots),
            )
            for url in new_urls
        ]
        entries = (
            await self._store.append_many(incident.id, items, recorded_by=person) if items else []
        )
        posts = [
            RecordedPost(e.seq, i.url, platform_of(i.url), i.posted_at, i.screenshots)
            for e, i in zip(entries, items, strict=True)
        ]
        posts += [replace(known[u], linked=True) for u in pending.urls if u in known]
        await self.discard(person)
        log.info(
            "sns capture on %s: %d posts recorded, %d linked",
            incident.id,
            len(items),
            len(pending.urls) - len(items),
        )
        return CaptureResult(incident.id, tuple(posts), tuple(notes))

    async def record_note(self, person: Person, case_id: str, text: str) -> int:
        """Append a note (e.g. a platform report and its answer); returns its entry number."""
        incident = await self.case_for(person, case_id)
        entry = await self._store.append_evidence(
            incident.id, NoteItem(text=text), recorded_by=person
        )
        log.info("sns note recorded on %s as entry %d", incident.id, entry.seq)
        return entry.seq

    def now(self) -> dt.datetime:
        """The current time (for the legal clock on cards)."""
        return self._clock.now()
