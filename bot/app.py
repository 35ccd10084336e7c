"""The composition root: the only place where concrete pieces are wired together.

Tests call ``build_app`` with fakes or the local Graph service; production
passes nothing and gets the real pieces from Settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from yarl import URL

from bot.background import Foreground, PendingWork
from bot.case_access import CaseAccess
from bot.cases.action_jobs import ActionJobs
from bot.cases.drafts import MailSettings, OrgMails
from bot.cases.escalation import ESCALATE_JOB, Escalations
from bot.cases.facts import MailFacts
from bot.cases.figures import OrgFiguresService
from bot.cases.linked import LinkedCasesService
from bot.cases.listing import CaseListing
from bot.cases.org_cases import OrgCasesService
from bot.cases.reminders import Reminders
from bot.cases.reminders import stop as stop_reminders
from bot.cases.tasks import CARE_EVENT_JOB, Calendar, CaseTasks
from bot.cases.viewers import Viewers
from bot.config import BotAuthType, GraphMode, Settings
from bot.delivery.bundles import CASE_BUNDLE, ORG_BUNDLE, Bundles
from bot.delivery.exports import EXPORT_JOB, ORG_EXPORT_JOB, Exports
from bot.delivery.file_consent import FileConsent
from bot.delivery.upload_session import UploadHosts
from bot.departments import DepartmentsError, load_organisation
from bot.directory import OrganisationDirectory
from bot.domain.access import CaseAction, Viewer
from bot.domain.flood import FloodThresholds
from bot.domain.incidents import Person
from bot.domain.linking import free_mail_domains
from bot.domain.mailbox import MailboxError
from bot.domain.matcher import Matcher
from bot.domain.ports import (
    AnchorStore,
    BlobStore,
    Clock,
    DecisionLog,
    DepartmentChannels,
    Directory,
    FigureQueries,
    JobQueue,
    OrgCaseRepository,
    Registry,
    Store,
    SystemClock,
    TaskRepository,
)
from bot.domain.sns import LegalClock, MonitoringPlan
from bot.domain.triage import TriagePolicy
from bot.evidence.anchors import Anchoring, LocalAnchorStore
from bot.evidence.azure_blobs import AzureEvidenceContainer
from bot.evidence.blobs import LocalBlobStore
from bot.flood import webhook as flood_webhook
from bot.flood.graph_feed import GraphInboxFeed
from bot.flood.watch import Endpoints, FloodWatch, parse_watch_list
from bot.guidance.answer import Guide
from bot.guidance.urgent import UrgentAlerts
from bot.jobs.periodic import SecondProcess, SingleRunnerLock, SqlLeases, every
from bot.jobs.runner import JobHandler, JobRunner
from bot.jobs.sql import SqlJobQueue
from bot.mail.graph_mailbox import GraphMailbox, graph_mailbox_from_settings
from bot.playbooks import load_library
from bot.server import build_web_app
from bot.sns.attachments import AttachmentFetcher
from bot.sns.capture import SnsCapture
from bot.sns.monitor import SpreadMonitor
from bot.store import migrate
from bot.store.departments import SqlDepartmentChannels
from bot.store.engine import Engines, create_engines
from bot.store.figures import SqlFigures
from bot.store.flood import SqlFloodState
from bot.store.registry import SqlRegistry
from bot.store.sql import SqlStore
from bot.store.tasks import SqlTasks
from bot.teams import cases as case_routes
from bot.teams import escalation as escalation_routes
from bot.teams import exports as export_routes
from bot.teams import figures as figures_routes
from bot.teams import flood as flood_routes
from bot.teams import guidance as guidance_routes
from bot.teams import incidents as incident_routes
from bot.teams import lifecycle
from bot.teams import mails as mail_routes
from bot.teams import org_cases as org_case_routes
from bot.teams import sns as sns_routes
from bot.teams import urgent as urgent_routes
from bot.teams.actions import ActionDispatcher
from bot.teams.hosting import build_hosting
from bot.teams.messenger import Messenger
from bot.triage.model import LinearClassifier
from graph.changes import GraphChangesClient
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox

log = logging.getLogger(__name__)

# How long a stopping instance waits for card updates and delta rounds already started.
SHUTDOWN_DRAIN_SECONDS = 10.0


class ConfigurationError(Exception):
    """Mamoru cannot start with these settings; the message says what to change."""


@dataclass(frozen=True, slots=True)
class EvidenceStorage:
    """Where evidence lives outside the database: files, chain-head anchors, export copies.

    ``container`` is the immutable Azure Blob container when one is configured; without
    it files and anchors are kept under the data directory.
    """

    blobs: BlobStore
    anchors: AnchorStore
    container: AzureEvidenceContainer | None = None

    async def start(self) -> None:
        """Create the container if it is an emulator's (Azure's comes from the Bicep)."""
        if self.container is not None:
            await self.container.ensure_container()

    async def aclose(self) -> None:
        """Close the container's HTTP session."""
        if self.container is not None:
            await self.container.aclose()


def build_evidence_storage(settings: Settings) -> EvidenceStorage:
    """The Blob container of ``MAMORU_EVIDENCE_CONTAINER_URL``, else local files."""
    container: AzureEvidenceContainer | None = None
    connection_string = settings.evidence_connection_string.get_secret_value()
    if connection_string:
        container = AzureEvidenceContainer.from_connection_string(
            connection_string, settings.evidence_container_name, create=True
        )
    elif settings.evidence_container_url:
        identity = (
            settings.client_id if settings.auth_type is BotAuthType.USER_MANAGED_IDENTITY else ""
        )
        container = AzureEvidenceContainer.from_url(
            settings.evidence_container_url, client_id=identity
        )
    if container is not None:
        return EvidenceStorage(container, container, container)
    return EvidenceStorage(
        LocalBlobStore(settings.data_dir / "blobs"),
        LocalAnchorStore(settings.data_dir / "anchors"),
    )


@dataclass(frozen=True, slots=True)
class Persistence:
    """Everything kept in the database, on one set of engines, and the evidence storage."""

    store: Store
    decisions: DecisionLog  # the same SqlStore: a decision is part of its case
    org_cases: OrgCaseRepository  # the same SqlStore: membership commits with evidence notes
    registry: Registry
    jobs: JobQueue
    blobs: BlobStore
    tasks: TaskRepository
    channels: DepartmentChannels  # each department's managers' channel
    figures: FigureQueries  # the organisation's figures, counted by the database
    migrate_url: str | None  # set when build_app owns the database (runs migrations)
    engines: Engines
    write_lock: asyncio.Lock  # SQLite: this process's writers queue here
    evidence: EvidenceStorage | None = None  # None: blobs only (tests), no anchoring
    app_url: str | None = None  # the app's own role, granted by migrate_url's owner


@dataclass(frozen=True, slots=True)
class Services:
    """The running pieces, reachable from the web app (tests and commands use them)."""

    guide: Guide
    persistence: Persistence
    escalations: Escalations
    runner: JobRunner
    reminders: Reminders
    exports: Exports | None = None


SERVICES = web.AppKey("mamoru_services", Services)


def build_guide(settings: Settings) -> Guide:
    """Playbooks, the triage classifier and the matcher: everything to answer with guidance."""
    library = load_library(settings.playbooks_dir)
    classifier = LinearClassifier.load()
    classifier.warm()
    matcher = Matcher(
        library,
        classifier,
        policy=TriagePolicy(route_at=settings.match_threshold),
        max_chars=settings.max_message_chars,
    )
    return Guide(library, matcher)


def build_persistence(settings: Settings, clock: Clock) -> Persistence:
    """Store, registry and job queue on one database (no I/O until first used)."""
    url = settings.effective_database_url
    engines = create_engines(url)
    write_lock = asyncio.Lock()  # SQLite: this process's writers queue here, not on the file
    evidence = build_evidence_storage(settings)
    blobs = evidence.blobs
    store = SqlStore(engines, blobs=blobs, clock=clock, write_lock=write_lock)
    return Persistence(
        store=store,
        decisions=store,
        org_cases=store,
        registry=SqlRegistry(engines, clock=clock, write_lock=write_lock),
        jobs=SqlJobQueue(engines, clock=clock, write_lock=write_lock),
        blobs=blobs,
        tasks=SqlTasks(engines, write_lock=write_lock),
        channels=SqlDepartmentChannels(engines, write_lock=write_lock),
        figures=SqlFigures(engines),
        migrate_url=settings.effective_migration_url,
        engines=engines,
        write_lock=write_lock,
        evidence=evidence,
        app_url=url if settings.migration_database_url else None,
    )


def build_app(
    settings: Settings,
    *,
    persistence: Persistence | None = None,
    mailbox: GraphMailbox | None = None,
    directory: Directory | None = None,
    clock: Clock | None = None,
    run_jobs: bool = True,
) -> web.Application:
    """The whole bot as an aiohttp application; migrations run and jobs start with it."""
    problem = settings.serving_problem()
    if problem:
        raise ConfigurationError(problem)
    clock = clock or SystemClock()
    persistence = persistence or build_persistence(settings, clock)
    own_mailbox = mailbox is None
    try:
        mailbox = mailbox or graph_mailbox_from_settings(settings)
    except MailboxError as exc:
        raise ConfigurationError(f"Microsoft Graph: {exc}") from exc
    embedded_sandbox = (
        own_mailbox and settings.graph_mode is GraphMode.SANDBOX and settings.graph_sandbox_embedded
    )
    if directory is None:
        try:
            organisation = load_organisation(settings)
        except DepartmentsError as exc:
            raise ConfigurationError(f"departments: {exc}") from exc
        directory = OrganisationDirectory(organisation, group_check=mailbox.is_member)
    guide = build_guide(settings)
    agent, adapter, auth_config = build_hosting(settings)
    # The activities being answered: card updates and jobs wait for them (bot/background.py).
    foreground = Foreground()

    escalations = Escalations(
        store=persistence.store,
        channels=persistence.channels,
        decisions=persistence.decisions,
        registry=persistence.registry,
        directory=directory,
        jobs=persistence.jobs,
        messenger=Messenger(adapter, settings.client_id),
        library=guide.library,
        clock=clock,
        admin_contact=settings.admin_contact,
        foreground=foreground,
        reads=persistence.engines.reads,
    )
    mails = wire_mails(settings, escalations, persistence, mailbox, clock)
    sns = build_sns(
        settings, persistence, clock, Messenger(adapter, settings.client_id), escalations
    )
    escalations.sns_spread = sns.capture.spread
    case_access = CaseAccess(persistence.store, directory)

    async def may_receive_case_bundle(case_id: str, person: Person) -> bool:
        # The export rule, asked again whenever a case's bundle is handed out.
        return await case_access.may(case_id, person, CaseAction.EXPORT)

    async def may_receive_org_bundle(case_id: str, person: Person) -> bool:
        # A combined bundle holds every member's bundle: the export rule on each, asked again.
        org_id = (await persistence.org_cases.org_cases_of([case_id])).get(case_id)
        members = (await persistence.org_cases.get_org_case(org_id)).members if org_id else ()
        for member in (case_id, *members):
            if not await case_access.may(member, person, CaseAction.EXPORT):
                return False
        return True

    bundles = Bundles(
        persistence.registry,
        clock,
        {CASE_BUNDLE: may_receive_case_bundle, ORG_BUNDLE: may_receive_org_bundle},
    )
    file_consent = (
        FileConsent(
            bundles=bundles,
            registry=persistence.registry,
            once=persistence.jobs.mark_once,
            clock=clock,
            hosts=UploadHosts(settings.upload_origin_set),
        )
        if settings.delivers_by_file_consent
        else None
    )
    exports = Exports(
        store=persistence.store,
        blobs=persistence.blobs,
        registry=persistence.registry,
        jobs=persistence.jobs,
        escalations=escalations,
        bundles=bundles,
        clock=clock,
        folder=settings.data_dir / "exports",
        base_url=settings.public_base_url,
        file_consent=file_consent,
        legal_clock=sns.legal_clock,
        archive=lambda case_id, path: archive_export(case_id, path),
        org_cases=persistence.org_cases,
    )
    action_jobs = ActionJobs(
        store=persistence.store,
        registry=persistence.registry,
        mailbox=mailbox,
        sender=mailbox,
        department_mailbox=settings.department_mailbox,
    )
    handlers: dict[str, JobHandler] = {
        ESCALATE_JOB: escalations.run_escalation_job,
        "mail-protection": action_jobs.mail_protection,
        "org-mail": action_jobs.org_mail,
        EXPORT_JOB: exports.run_export_job,
        ORG_EXPORT_JOB: exports.run_org_export_job,
    }
    tasks = wire_tasks(
        escalations, persistence, directory, mailbox, clock, handlers, settings.department_mailbox
    )
    runner = JobRunner(
        persistence.jobs,
        handlers,
        clock=clock,
        on_change=escalations.on_job_change,
        deadline=dt.timedelta(hours=settings.job_deadline_hours),
        permission_window=dt.timedelta(hours=settings.permission_propagation_hours),
        lease=dt.timedelta(seconds=settings.job_lease_seconds),
        before_claim=foreground.quiet,
    )

    # Every card verb naming a case opens it here first (docs/security.md).
    # Cards following a click outside a personal chat go to the clicker's personal chat.
    actions = ActionDispatcher(case_access, privately=escalations.notices.send_to)
    agent.add_route(actions.selects, actions.handle, is_invoke=True)
    commands = incident_routes.register(
        agent,
        actions,
        guide.library,
        persistence.store,
        registry=persistence.registry,
        clock=clock,
        department_of=directory.department_of,
        max_text=settings.max_message_chars,
        on_reported=escalations.request_escalation,
        extra_cards=sns_routes.protection_cards,
    )
    sns.capture.allow_managers(directory)
    sns_routes.register(
        agent,
        actions,
        sns.capture,
        legal_clock=sns.legal_clock,
        post_to_thread=escalations.post_to_thread,
    )
    sns_routes.register_monitor(actions, sns.monitor)
    commands |= escalation_routes.register(agent, actions, escalations, exports)
    listing = CaseListing(
        store=persistence.store,
        tasks=tasks,
        viewers=Viewers(directory),
        clock=clock,
        page_size=settings.case_list_page_size,
    )
    commands |= case_routes.register(actions, listing, tasks, escalations, guide.library)
    try:
        department_names = {d.id: d.name or d.id for d in load_organisation(settings).departments}
    except DepartmentsError:
        department_names = {}
    figures = OrgFiguresService(queries=persistence.figures, clock=clock)
    commands |= figures_routes.register(figures, escalations, departments=department_names)
    export_routes.register(actions, exports, escalations)
    if file_consent is not None:
        export_routes.register_file_consent(
            agent, file_consent, Messenger(adapter, settings.client_id)
        )
    mail_routes.register(actions, escalations, mails)
    guidance_routes.register(agent, actions, guide, commands)
    urgent_routes.register(
        actions,
        UrgentAlerts(
            store=persistence.store,
            registry=persistence.registry,
            channels=persistence.channels,
            directory=directory,
            messenger=Messenger(adapter, settings.client_id),
            clock=clock,
        ),
        guide.library,
    )
    lifecycle.register(agent, guide.library)

    store = persistence.store

    async def playbooks_ok() -> tuple[bool, str]:
        return True, f"{len(guide.library)} playbooks"

    async def database_ok() -> tuple[bool, str]:
        try:
            await store.list_incidents(Viewer(object_id="healthz"), limit=1)
        except Exception as exc:  # health reports any failure, by type only
            return False, type(exc).__name__
        return True, "reachable"

    web_app = build_web_app(
        agent,
        adapter,
        auth_config,
        {"playbooks": playbooks_ok, "database": database_ok},
        tenant_id=settings.tenant_id,
        foreground=foreground,
    )
    reminders = Reminders(
        escalations=escalations,
        store=persistence.store,
        registry=persistence.registry,
        jobs=persistence.jobs,
        library=guide.library,
        clock=clock,
        tasks=tasks,
        undecided_after=dt.timedelta(hours=settings.escalation_reminder_hours),
    )
    anchoring = (
        Anchoring(persistence.store, persistence.evidence.anchors, clock)
        if persistence.evidence is not None
        else None
    )

    async def archive_export(case_id: str, path: Path) -> None:
        # The bundle handed out is kept in the immutable container, and the head it
        # shows is anchored at once, not at the next periodic pass.
        if persistence.evidence is not None and persistence.evidence.container is not None:
            await persistence.evidence.container.put_export(case_id, path)
        if anchoring is not None:
            await anchoring.anchor_case(case_id)

    if file_consent is None:  # no link route at all where bundles go out as Teams files
        web_app.router.add_get("/exports/{link}", exports.page)
        web_app.router.add_post("/exports/{link}", exports.download)
    messenger = Messenger(adapter, settings.client_id)
    flood = build_flood(settings, persistence, mailbox, clock, messenger)
    flood_routes.register(
        actions,
        flood,
        persistence.store,
        directory,
        guide.library,
        registry=persistence.registry,
        clock=clock,
        on_reported=escalations.request_escalation,
    )
    flood_webhook.add_routes(web_app, flood)
    flood.department_of = directory.department_of
    free_mail = free_mail_domains(settings.free_mail_domains)
    escalations.free_mail = free_mail  # a configured shared domain is never proposed for a block
    linked = LinkedCasesService(
        store=persistence.store,
        free_mail=free_mail,
    )
    org_cases = OrgCasesService(
        store=persistence.store,
        org_cases=persistence.org_cases,
        linked=linked,
        tasks=persistence.tasks,
    )
    escalations.link_source = org_cases.summary
    org_case_routes.register(actions, org_cases, escalations, exports)
    web_app[FLOOD] = flood
    web_app[SERVICES] = Services(guide, persistence, escalations, runner, reminders, exports)
    web_app[SNS] = sns
    background: list[asyncio.Task[None]] = []
    leases = SqlLeases(persistence.engines, clock=clock, write_lock=persistence.write_lock)
    single_runner = (
        SingleRunnerLock(Path(persistence.engines.write.url.database or "mamoru.db"))
        if persistence.engines.is_sqlite and persistence.migrate_url
        else None
    )

    sandboxes: list[RunningSandbox] = []

    async def start(_app: web.Application) -> None:
        if persistence.migrate_url:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await migrate.upgrade(persistence.migrate_url, app_url=persistence.app_url)
            log.info("database ready (%s)", _redacted(persistence.migrate_url))
        if persistence.evidence is not None:
            await persistence.evidence.start()
        if embedded_sandbox:
            sandboxes.append(await start_demo_sandbox(settings.graph_sandbox_url))
        if run_jobs and single_runner is not None:
            try:
                single_runner.acquire()
            except SecondProcess as exc:
                # Serve the chat, but leave jobs and periodic work to the process that has them.
                log.error("%s", exc)
                return
        if run_jobs:
            runner.start()
            interval = dt.timedelta(minutes=settings.reminder_check_minutes)
            # Once per period across instances: whoever takes the period's lease does it.
            for name, tick in (("reminders", reminders.tick), ("sns-monitor", sns.monitor.tick)):
                background.append(
                    asyncio.create_task(
                        every(interval, name, tick, leases=leases, owner=runner.worker_id)
                    )
                )
            if anchoring is not None:
                anchor_every = dt.timedelta(minutes=settings.evidence_anchor_minutes)
                background.append(
                    asyncio.create_task(
                        every(
                            anchor_every,
                            "evidence-anchors",
                            anchoring.anchor_all,
                            leases=leases,
                            owner=runner.worker_id,
                        )
                    )
                )
            if flood.mailboxes:
                flood_interval = dt.timedelta(minutes=min(1.0, settings.flood_poll_minutes))
                background.append(
                    asyncio.create_task(
                        every(
                            flood_interval,
                            "flood-watch",
                            flood.tick,
                            leases=leases,
                            owner=runner.worker_id,
                        )
                    )
                )

    async def stop(_app: web.Application) -> None:
        # Card updates already promised to the thread, pending delta rounds: a bounded
        # wait, so one stuck update cannot keep the instance from stopping.
        for service in (escalations, flood):
            try:
                await service.drain(SHUTDOWN_DRAIN_SECONDS)
            except PendingWork as stuck:
                log.warning("stopping with background work unfinished: %s", stuck)
        if file_consent is not None:
            try:
                await file_consent.drain(SHUTDOWN_DRAIN_SECONDS)
            except PendingWork as stuck:
                log.warning("stopping with an upload unfinished: %s", stuck)
            await file_consent.aclose()
        await sns.fetcher.aclose()
        for task in background:
            await stop_reminders(task)
        await runner.stop()
        if single_runner is not None:
            single_runner.release()
        if own_mailbox:
            await mailbox.aclose()
        for sandbox in sandboxes:
            await sandbox.close()
        if anchoring is not None:
            with contextlib.suppress(Exception):  # a last anchor on the way out, if possible
                await anchoring.anchor_all()
        if persistence.migrate_url:
            await persistence.store.close()
        if persistence.evidence is not None:
            await persistence.evidence.aclose()

    web_app.on_startup.append(start)
    web_app.on_cleanup.append(stop)
    if settings.has_bot_identity:
        log.info("bot identity %s: tokens are required on /api/messages", settings.client_id)
    if settings.allow_anonymous:
        log.warning(
            "ANONYMOUS mode: /api/messages accepts requests without a token. "
            "Local use only (Agents Playground); never enable this in Azure."
        )
    if (
        not settings.departments_file
        and not settings.departments
        and not settings.manager_id_set
        and not settings.manager_group_id
    ):
        log.warning(
            "no managers configured (MAMORU_DEPARTMENTS_FILE, or MAMORU_MANAGER_IDS / "
            "MAMORU_MANAGER_GROUP_ID)"
        )
    return web_app


# --- SNS cases (issue 6)


@dataclass(frozen=True, slots=True)
class SnsPieces:
    """The SNS-case services: capture (with its attachment fetcher) and the legal clock."""

    capture: SnsCapture
    fetcher: AttachmentFetcher
    legal_clock: LegalClock
    monitor: SpreadMonitor


SNS = web.AppKey("mamoru_sns", SnsPieces)


def build_sns(
    settings: Settings,
    persistence: Persistence,
    clock: Clock,
    messenger: Messenger,
    escalations: Escalations,
) -> SnsPieces:
    """SNS capture on the same blob store as the evidence log."""
    fetcher = AttachmentFetcher(
        max_bytes=settings.sns_max_image_mb * 1024 * 1024,
        token=sns_routes.bot_token_source(settings),
        extra_origins=frozenset(
            o.strip() for o in settings.sns_attachment_origins.split(",") if o.strip()
        ),
    )
    capture = SnsCapture(
        store=persistence.store,
        registry=persistence.registry,
        blobs=persistence.blobs,
        fetcher=fetcher,
        clock=clock,
    )
    legal_clock = LegalClock(
        warn_days=settings.sns_legal_warn_days, window_days=settings.sns_legal_window_days
    )
    monitor = SpreadMonitor(
        store=persistence.store,
        registry=persistence.registry,
        jobs=persistence.jobs,
        sender=messenger,
        capture=capture,
        clock=clock,
        plan=MonitoringPlan(
            daily_days=settings.sns_monitor_daily_days,
            weekly_weeks=settings.sns_monitor_weekly_weeks,
        ),
        legal_clock=legal_clock,
        post_to_thread=escalations.post_to_thread,
    )
    return SnsPieces(capture, fetcher, legal_clock, monitor)


# --- Flood watch (issue 15)

FLOOD = web.AppKey("mamoru_flood", FloodWatch)


def build_flood(
    settings: Settings,
    persistence: Persistence,
    mailbox: GraphMailbox,
    clock: Clock,
    messenger: Messenger,
) -> FloodWatch:
    """The flood watch over the same Graph session as mail protection."""
    try:
        watched = parse_watch_list(
            settings.flood_mailboxes, default_department=settings.default_department
        )
        thresholds = FloodThresholds(
            per_day=settings.flood_per_day,
            per_hour=settings.flood_per_hour,
            same_subject=settings.flood_same_subject,
        )
    except ValueError as exc:
        raise ConfigurationError(f"MAMORU_FLOOD_MAILBOXES: {exc}") from exc
    base = settings.flood_notification_base_url or (
        f"https://{settings.public_hostname}" if settings.public_hostname else ""
    )
    endpoints = (
        Endpoints(
            notifications=base.rstrip("/") + flood_webhook.NOTIFICATIONS_PATH,
            lifecycle=base.rstrip("/") + flood_webhook.LIFECYCLE_PATH,
        )
        if base
        else None
    )
    return FloodWatch(
        feed=GraphInboxFeed(GraphChangesClient(mailbox.client.transport)),
        state=SqlFloodState(persistence.engines, write_lock=persistence.write_lock),
        registry=persistence.registry,
        channels=persistence.channels,
        sender=messenger,
        clock=clock,
        mailboxes=watched,
        thresholds=thresholds,
        endpoints=endpoints,
        poll_interval=dt.timedelta(minutes=settings.flood_poll_minutes),
    )


def wire_mails(
    settings: Settings,
    escalations: Escalations,
    persistence: Persistence,
    mailbox: GraphMailbox,
    clock: Clock,
) -> OrgMails:
    """The organisation's mails (drafts, previews, one send) and the mail counts."""
    mails = OrgMails(
        registry=persistence.registry,
        jobs=persistence.jobs,
        clock=clock,
        settings=MailSettings(
            department_mailbox=settings.department_mailbox,
            department_name=settings.department_name,
            signatory=settings.mail_signatory,
            reference_format=settings.mail_reference_format,
            reference_department=settings.mail_reference_department,
        ),
    )
    escalations.mails = mails
    escalations.mail_facts = MailFacts(mailbox=mailbox, registry=persistence.registry, clock=clock)
    return mails


def wire_tasks(
    escalations: Escalations,
    persistence: Persistence,
    directory: Directory,
    calendar: Calendar,
    clock: Clock,
    handlers: dict[str, JobHandler],
    department_mailbox: str,
) -> CaseTasks:
    """Tasks for people on approval, shown on the thread card; the 1:1 calendar event job."""
    tasks = CaseTasks(
        tasks=persistence.tasks,
        registry=persistence.registry,
        directory=directory,
        jobs=persistence.jobs,
        calendar=calendar,
        clock=clock,
        calendar_mailbox=department_mailbox,
        on_change=escalations.refresh_thread,
    )
    escalations.task_source = tasks.tasks
    escalations.approval_tasks = tasks.planned
    handlers[CARE_EVENT_JOB] = tasks.care_event_job
    return tasks


async def start_demo_sandbox(url: str) -> RunningSandbox:
    """The local Graph service with the demo office, at ``url`` (``MAMORU_GRAPH_SANDBOX_URL``)."""
    port = URL(url).port or 5280
    tenant = Tenant()
    seed_demo(tenant)
    try:
        running = await start_sandbox(make_sandbox(tenant), port=port)
    except OSError as exc:
        raise ConfigurationError(
            f"the local Graph service cannot listen on port {port} ({exc.strerror}): stop what "
            "uses it, set MAMORU_GRAPH_SANDBOX_URL to another port, or set "
            "MAMORU_GRAPH_SANDBOX_EMBEDDED=false if `mamoru sandbox` already runs there"
        ) from exc
    log.info("local Graph service (demo office) at %s", running.base_url)
    return running


def _redacted(url: str) -> str:
    """The database URL without its password, for the startup log."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
