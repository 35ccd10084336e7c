"""Evidence bundles requested from a manager's card: made by a job, fetched by a private link.

The bundle is written under ``<data_dir>/exports`` by the same code as
``mamoru evidence export``. Delivery goes to the person who asked: a card with a
download button in their personal chat, and a notice in the case's thread with a
button that gives them a fresh link (and says how to fix it when Mamoru cannot write
to them). A link is minted only for the requester's Teams identity, works once and
for ``LINK_LIFETIME``; its secret travels in the URL fragment (never sent to a
server, so never in an access log, proxy log or Referer) and reaches Mamoru in the
body of a POST from a small download page. See docs/evidence.md, "Exports".
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from bot.domain.incidents import Person
from bot.domain.jobs import Job, JobSpec
from bot.domain.org_cases import OrgCaseNotFound
from bot.domain.ports import BlobStore, Clock, JobQueue, OrgCaseRepository, Registry, Store
from bot.domain.sns import LegalClock
from bot.escalation import Escalations
from bot.evidence.export import export_bundle
from bot.evidence.org_bundle import export_org_bundle
from cards.exports import export_ready_card, export_thread_card

log = logging.getLogger(__name__)
EXPORT_JOB = "export"
ORG_EXPORT_JOB = "org-export"  # the combined bundle of an organisational case
BUNDLE = "export-bundle"  # registry kind: export job id -> {path, incident, by, by_name, at}
LINK = "export-link"  # registry kind: link id -> {bundle, by, expires, secret_sha256}
LINK_LIFETIME = dt.timedelta(minutes=10)
BUNDLE_LIFETIME = dt.timedelta(hours=24)  # new links for a finished bundle, this long


class LinkRefused(Exception):
    """No link for this person: ``reason`` is ``not-found``, ``not-yours`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Link:
    """A minted download link and what it is for."""

    url: str
    incident_id: str
    export_id: str
    by_name: str
    name: str = ""  # what the bundle is called: its case, or its organisational case


class Exports:
    """Queues bundle exports, writes them, mints links and serves them once."""

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
        archive: Callable[[str, Path], Awaitable[object]] | None = None,
        org_cases: OrgCaseRepository | None = None,
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
        self._archive = archive  # keeps a copy outside the web app's disk and anchors the case
        self._org_cases = org_cases

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
        """Job handler: write the bundle, then deliver it to the requester (and the thread)."""
        by = Person(str(job.params["by"]), str(job.params.get("by_name", "")))
        self._folder.mkdir(parents=True, exist_ok=True)
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
        if self._archive is not None:
            await self._archive(job.incident_id, path)
        await self.deliver(job.id, path, by, incident_id=job.incident_id)

    async def request_org(self, org_id: str, members: Sequence[str], by: Person) -> None:
        """Queue the combined bundle of ``members`` (the ones the requester saw) of ``org_id``."""
        minute = self._clock.now().strftime("%Y%m%d%H%M")
        await self._jobs.enqueue(
            JobSpec(
                kind=ORG_EXPORT_JOB,
                incident_id=members[0],  # jobs belong to a case: the oldest member
                params={
                    "org": org_id,
                    "members": list(members),
                    "by": by.object_id,
                    "by_name": by.display_name,
                },
                idempotency_key=f"{org_id}:export:{by.object_id}:{minute}",
            )
        )

    async def run_org_export_job(self, job: Job, _context: object) -> None:
        """Job handler: the combined bundle of exactly the members the requester saw."""
        by = Person(str(job.params["by"]), str(job.params.get("by_name", "")))
        org_id = str(job.params["org"])
        members = tuple(str(m) for m in job.params["members"])
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._folder / f"{org_id}-{job.id}.zip"
        if not path.exists():  # a retried job reuses the finished file
            org = await self._org_cases.get_org_case(org_id) if self._org_cases else None
            if org is None:
                raise OrgCaseNotFound(org_id)
            # Members that left meanwhile are not exported; none is added unseen.
            org = replace(
                org,
                memberships=tuple(
                    m for m in org.memberships if m.active and m.incident_id in members
                ),
            )
            await export_org_bundle(
                self._store,
                self._blobs,
                org,
                path,
                actor=by,
                clock=self._clock,
                legal_clock=self._legal_clock,
                on_member=self._archive,
            )
        await self.deliver(
            job.id, path, by, incident_id=job.incident_id, title=org_id, threads=members
        )

    async def deliver(
        self,
        export_id: str,
        path: Path,
        by: Person,
        *,
        incident_id: str,
        title: str = "",
        threads: Sequence[str] = (),
    ) -> None:
        """Hand a finished bundle to its requester, and tell the cases' threads.

        ``incident_id``: the case the bundle's link belongs to (its access rule gates new
        links); ``title``: what the bundle is called ("" for the case id); ``threads``:
        the cases whose threads hear of it (default: ``incident_id``'s).
        """
        name = title or incident_id
        await self._registry.put(
            BUNDLE,
            export_id,
            {
                "path": str(path),
                "incident": incident_id,
                "name": name,
                "by": by.object_id,
                "by_name": by.display_name,
                "at": self._clock.now().isoformat(),
            },
        )
        link = await self.mint(export_id, by)
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        reached = await self._escalations.send_to(
            by.object_id,
            lambda locale: export_ready_card(
                link.incident_id, export_id, by.display_name, link.url, minutes, locale, title=name
            ),
        )
        for thread in threads or (incident_id,):
            await self._escalations.post_card_to_thread(
                thread,
                lambda locale: export_thread_card(
                    incident_id,
                    export_id,
                    by.display_name,
                    reachable=reached,
                    locale=locale,
                    title=name,
                ),
            )
        log.info("bundle %s ready (requester reached: %s)", export_id, reached)

    async def mint(self, export_id: str, person: Person) -> Link:
        """A new single-use link to bundle ``export_id`` for ``person``; ``LinkRefused``."""
        bundle = await self._registry.get(BUNDLE, export_id)
        if bundle is None:
            raise LinkRefused("not-found")
        if bundle["by"] != person.object_id:
            raise LinkRefused("not-yours")
        if self._clock.now() - dt.datetime.fromisoformat(bundle["at"]) > BUNDLE_LIFETIME:
            raise LinkRefused("expired")
        link_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        await self._registry.put(
            LINK,
            link_id,
            {
                "bundle": export_id,
                "by": person.object_id,
                "expires": (self._clock.now() + LINK_LIFETIME).isoformat(),
                # Only a hash: whoever reads the database cannot use a live link.
                "secret_sha256": _sha256(secret),
            },
        )
        return Link(
            url=f"{self._base_url}/exports/{link_id}#k={secret}",
            incident_id=bundle["incident"],
            export_id=export_id,
            by_name=bundle.get("by_name", ""),
            name=bundle.get("name", bundle["incident"]),
        )

    async def page(self, request: web.Request) -> web.StreamResponse:
        """``GET /exports/{link}``: the download page (the same whatever the link's state)."""
        return web.Response(
            text=_PAGE, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        """``POST /exports/{link}`` with the secret: the bundle, once, while the link is valid."""
        link_id = request.match_info["link"]
        form = await request.post()
        secret = form.get("k")
        record = await self._registry.get(LINK, link_id) if len(link_id) <= 64 else None
        valid = (
            record is not None
            and isinstance(secret, str)
            and hmac.compare_digest(_sha256(secret), str(record["secret_sha256"]))
            and self._clock.now() <= dt.datetime.fromisoformat(record["expires"])
        )
        # Used up before the file goes out: two clicks (or a leaked copy) get one download.
        if not valid or not await self._jobs.mark_once(f"export-link:{link_id}"):
            log.info("export link refused (unknown, wrong secret, expired or used)")
            return web.Response(status=404, text=_GONE, headers=_PAGE_HEADERS)
        assert record is not None
        bundle = await self._registry.get(BUNDLE, str(record["bundle"])) or {}
        path = Path(str(bundle.get("path", "")))
        if not path.is_file():
            return web.Response(status=404, text=_GONE, headers=_PAGE_HEADERS)
        log.info("incident %s: bundle downloaded by its requester", bundle.get("incident"))
        return web.FileResponse(
            path,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{bundle.get("name", bundle["incident"])}-evidence.zip"'
                ),
                **_PAGE_HEADERS,
            },
        )


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# The page reads the secret from the fragment, removes it from the address bar, and sends
# it in a POST body when the person clicks (a link previewer that runs no click uses
# nothing up).
_SCRIPT = (
    "var k=new URLSearchParams(location.hash.slice(1)).get('k')||'';"
    "history.replaceState(null,'',location.pathname);"
    "document.getElementById('k').value=k;"
    "if(!k){document.getElementById('go').disabled=true;}"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_PAGE = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Mamoru 証拠一式 / Evidence bundle</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em">
<h1>証拠一式のダウンロード</h1>
<p>このリンクは1回限り・短時間だけ有効です。<br>
ダウンロード後は VERIFY.txt の手順で改ざんがないことを確認できます。</p>
<p>This link works once, for a short time. Check the bundle with VERIFY.txt.</p>
<form method="post">
<input type="hidden" name="k" id="k">
<button id="go" type="submit" style="font-size:1.2em;padding:.5em 1.5em">
ダウンロード / Download</button>
</form>
<p>使えないときは、Teams の Mamoru のカードで「新しいリンクを受け取る」を押してください。<br>
If it does not work, press "Get a new link" on Mamoru's card in Teams.</p>
<script>{_SCRIPT}</script>
</body></html>
"""
_GONE = (
    "This link has expired, was already used, or does not exist. "
    'Press "Get a new link" on Mamoru\'s card in Teams.\n'
    "このリンクは期限切れ・使用済みか、存在しません。Teams の Mamoru のカードで"
    "「新しいリンクを受け取る」を押してください。\n"
)
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


__all__ = ["EXPORT_JOB", "ORG_EXPORT_JOB", "Exports", "Link", "LinkRefused"]
