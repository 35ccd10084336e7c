"""Evidence bundles requested from a manager's card: made by a job, fetched by a private link.

The bundle is written under ``<data_dir>/exports`` by the same code as
``mamoru evidence export``; the link (an unguessable token, valid for a short
time) goes to the requesting manager's personal chat only, never to the channel.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from pathlib import Path

from aiohttp import web

from bot.domain.incidents import Person
from bot.domain.jobs import Job, JobSpec
from bot.domain.ports import BlobStore, Clock, JobQueue, Registry, Store
from bot.domain.sns import LegalClock
from bot.escalation import Escalations
from bot.evidence.export import export_bundle

log = logging.getLogger(__name__)
EXPORT_JOB = "export"
EXPORT = "export"  # registry kind: token -> {path, incident, by, expires}
LINK_LIFETIME = dt.timedelta(minutes=30)


class Exports:
    """Queues bundle exports, writes them, and serves them by token."""

    def __init__(
        self,
        *,
        store: Store,
        blobs: BlobStore,
        registry: Registry,
        jobs: JobQueue,
        escalations: Escalations,
        clock: Clock,
        folder: Path,
        base_url: str,
        legal_clock: LegalClock | None = None,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._registry = registry
        self._jobs = jobs
        self._escalations = escalations
        self._clock = clock
        self._folder = folder
        self._base_url = base_url.rstrip("/")
        self._legal_clock = legal_clock  # the SNS legal packet's thresholds, as configured

    async def request(self, incident_id: str, by: Person) -> None:
        """Queue an export for ``by`` (clicks within the same minute make one)."""
        minute = self._clock.now().strftime("%Y%m%d%H%M")
        await self._jobs.enqueue(
            JobSpec(
                kind=EXPORT_JOB,
                incident_id=incident_id,
                params={"by": by.object_id, "by_name": by.display_name},
                idempotency_key=f"{incident_id}:export:{by.object_id}:{minute}",
            )
        )

    async def run_export_job(self, job: Job, _context: object) -> None:
        """Job handler: write the bundle, then send its private link to the requester."""
        by = Person(str(job.params["by"]), str(job.params.get("by_name", "")))
        self._folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path = self._folder / f"{job.incident_id}-{job.id}.zip"
        if not path.exists():  # a retried job reuses the finished file
            await export_bundle(
                self._store,
                self._blobs,
                job.incident_id,
                path,
                actor=by,
                clock=self._clock,
                legal_clock=self._legal_clock,
            )
        expires = self._clock.now() + LINK_LIFETIME
        await self._registry.put(
            EXPORT,
            token,
            {
                "path": str(path),
                "incident": job.incident_id,
                "by": by.object_id,
                "expires": expires.isoformat(),
            },
        )
        url = f"{self._base_url}/exports/{token}"
        await self._escalations.tell(by.object_id, "export.ready", id=job.incident_id, url=url)
        log.info("incident %s: bundle ready for its requester", job.incident_id)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /exports/{token}``: the bundle while the link is valid, else 404."""
        token = request.match_info["token"]
        record = await self._registry.get(EXPORT, token) if len(token) >= 32 else None
        if record is None or self._clock.now() > dt.datetime.fromisoformat(record["expires"]):
            return web.Response(
                status=404,
                text="This link has expired or does not exist. Ask Mamoru for a new export.\n"
                "このリンクは期限切れか存在しません。もう一度出力してください。\n",
            )
        path = Path(record["path"])
        return web.FileResponse(
            path,
            headers={
                "Content-Disposition": f'attachment; filename="{record["incident"]}-evidence.zip"',
                "Cache-Control": "no-store",
            },
        )
