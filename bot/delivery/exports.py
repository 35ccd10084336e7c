"""Evidence bundles requested from a manager's card: made by a job, handed to the requester.

The bundle is written under ``<data_dir>/exports`` by the same code as
``mamoru evidence export`` and recorded as a ``bot.delivery.bundles.Bundle``. Delivery
goes to the person who asked, in their personal chat, and a notice goes to the case's
thread with a button that offers it to them again (and says how to fix it when Mamoru
cannot write to them). Two ways, chosen by ``Settings.delivers_by_file_consent``:

- **Teams file consent** (any run with a bot identity): a file consent card; once the
  requester accepts, the bundle goes into their own OneDrive (``bot.delivery``). Only the
  requester's Teams identity can accept it, once, within ``OFFER_LIFETIME``.
- **Single-use link** (local runs without an identity: Agents Playground, which has no
  file consent): minted only for the requester, works once and for ``LINK_LIFETIME``;
  its secret travels in the URL fragment (never sent to a server, so never in an access
  log, proxy log or Referer) and reaches Mamoru in the body of a POST from a small page.

See docs/security.md, "Evidence bundles: delivery".
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
from microsoft_agents.activity import Activity, ActivityTypes, Attachment

from bot.cases.escalation import Escalations
from bot.delivery.bundles import CASE_BUNDLE, ORG_BUNDLE, Bundle, Bundles, DeliveryRefused
from bot.delivery.file_consent import OFFER_LIFETIME, FileConsent
from bot.domain.incidents import Person
from bot.domain.jobs import Job, JobSpec
from bot.domain.locale import Locale
from bot.domain.org_cases import OrgCaseNotFound
from bot.domain.ports import BlobStore, Clock, JobQueue, OrgCaseRepository, Registry, Store
from bot.domain.sns import LegalClock
from bot.evidence.export import export_bundle
from bot.evidence.org_bundle import export_org_bundle
from cards.exports import export_ready_card, export_thread_card
from cards.i18n import t

log = logging.getLogger(__name__)
EXPORT_JOB = "export"
ORG_EXPORT_JOB = "org-export"  # the combined bundle of an organisational case
LINK = "export-link"  # registry kind: link id -> {bundle, by, expires, secret_sha256}
LINK_LIFETIME = dt.timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Link:
    """A minted download link and what it is for."""

    url: str
    incident_id: str
    export_id: str
    by_name: str
    name: str = ""  # what the bundle is called: its case, or its organisational case


class Exports:
    """Queues bundle exports, writes them and offers them to their requester."""

    def __init__(
        self,
        *,
        store: Store,
        blobs: BlobStore,
        registry: Registry,
        jobs: JobQueue,
        escalations: Escalations,
        bundles: Bundles,
        clock: Clock,
        folder: Path,
        base_url: str,
        file_consent: FileConsent | None = None,
        legal_clock: LegalClock | None = None,
        archive: Callable[[str, Path], Awaitable[object]] | None = None,
        org_cases: OrgCaseRepository | None = None,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._registry = registry
        self._jobs = jobs
        self._escalations = escalations
        self.bundles = bundles
        self._clock = clock
        self._folder = folder
        self._base_url = base_url.rstrip("/")
        self.file_consent = file_consent  # set: Teams file consent; None: single-use links
        self._legal_clock = legal_clock  # the SNS legal packet's thresholds, as configured
        self._archive = archive  # keeps a copy outside the web app's disk and anchors the case
        self._org_cases = org_cases

    @property
    def by_file(self) -> bool:
        """Whether bundles go out as Teams files (else as single-use links)."""
        return self.file_consent is not None

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
        await self.hand_over(job.id, path, by, incident_id=job.incident_id)

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
        await self.hand_over(
            job.id,
            path,
            by,
            incident_id=job.incident_id,
            title=org_id,
            threads=members,
            kind=ORG_BUNDLE,
        )

    async def hand_over(
        self,
        export_id: str,
        path: Path,
        by: Person,
        *,
        incident_id: str,
        title: str = "",
        threads: Sequence[str] = (),
        kind: str = CASE_BUNDLE,
    ) -> None:
        """Record a finished bundle, deliver it to its requester, and tell the cases' threads.

        ``incident_id``: the case whose access rule gates every hand-out; ``title``: what the
        bundle is called ("" for the case id); ``threads``: the cases whose threads hear of
        it (default: ``incident_id``'s).
        """
        name = title or incident_id
        bundle = Bundle(
            id=export_id,
            path=path,
            filename=f"{name}-evidence.zip",
            subject=incident_id,
            by=by,
            at=self._clock.now(),
            kind=kind,
            title=name,
        )
        await self.bundles.add(bundle)
        reached = await self.deliver(bundle)
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
                    by_file=self.by_file,
                ),
            )
        log.info("bundle %s ready (requester reached: %s)", export_id, reached)

    async def deliver(self, bundle: Bundle) -> bool:
        """Offer ``bundle`` in its requester's personal chat; False if Mamoru cannot reach
        them. Works for any recorded bundle (``Bundles``), not only a case's export."""
        consent = self.file_consent
        if consent is None:
            link = await self.mint(bundle.id, bundle.by)
            minutes = int(LINK_LIFETIME.total_seconds() // 60)
            return await self._escalations.notices.send_to(
                bundle.by.object_id,
                lambda locale: export_ready_card(
                    link.incident_id,
                    bundle.id,
                    bundle.by.display_name,
                    link.url,
                    minutes,
                    locale,
                    title=bundle.title,
                ),
            )

        async def consent_card(locale: Locale) -> Activity:
            minutes = int(OFFER_LIFETIME.total_seconds() // 60)
            description = t("export.file.description", locale, id=bundle.title, minutes=minutes)
            attachment = await consent.offer(bundle, description)
            return Activity(
                type=ActivityTypes.message,
                text=t("export.file.offer", locale, id=bundle.title, minutes=minutes),
                attachments=[Attachment.model_validate(attachment)],
            )

        return await self._escalations.notices.send_message_to(bundle.by.object_id, consent_card)

    async def mint(self, export_id: str, person: Person) -> Link:
        """A new single-use link to bundle ``export_id`` for ``person``; ``DeliveryRefused``."""
        if self.by_file:
            # With Teams file consent no link exists: the route that serves links is off.
            raise DeliveryRefused("not-found")
        bundle = await self.bundles.for_person(export_id, person)
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
            incident_id=bundle.subject,
            export_id=export_id,
            by_name=bundle.by.display_name,
            name=bundle.title,
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
        bundle = await self.bundles.get(str(record["bundle"]))
        if bundle is None or not bundle.path.is_file():
            return web.Response(status=404, text=_GONE, headers=_PAGE_HEADERS)
        log.info("incident %s: bundle downloaded by its requester", bundle.subject)
        return web.FileResponse(
            bundle.path,
            headers={
                "Content-Disposition": f'attachment; filename="{bundle.filename}"',
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


__all__ = ["EXPORT_JOB", "LINK_LIFETIME", "ORG_EXPORT_JOB", "Exports", "Link"]
