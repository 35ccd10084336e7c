"""Three ``mamoru serve`` processes on one PostgreSQL database, driven over HTTP as Teams would.

What App Service scale-out does to Mamoru, with nothing stubbed inside the bot: three
``python -m bot serve`` processes start at the same moment on a fresh database (so they
also race to migrate it), share the evidence files (the one Blob container in Azure, a
shared data directory here), the local Graph service and a stand-in Bot Connector.
Activities are spread over the instances as a load balancer would.

A staff member reports two cases. A manager approves mail protection of the first
(a few hundred mails, archived in checkpointed batches); while it runs, the instance
holding the job is killed with SIGKILL. The second case stays undecided, so its
reminder falls due again and again; chain heads are anchored every period.

Checked as a user, an IT person or an auditor would see it: every mail from the sender
is in the evidence folder exactly once (moved once, none left in the Inbox, none
deleted), the job succeeded, the staff member heard "finished" once, each undecided
reminder was posted once, each periodic task ran at most once per period across the
three instances and went on after the kill, and ``mamoru evidence verify`` passes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.seed import (
    DEMO_ABUSER,
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
)
from tests.e2e.processes import ChildProcess, free_port, spawn_mamoru
from tests.store.backends import fresh_database
from tests.support.connector import (
    FakeConnector,
    action_invoke,
    in_channel,
    start_connector,
    user_activity,
)
from tests.support.office import KACHO, STAFF
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.postgres

MAILS = 300  # from the harasser, in the staff member's Inbox
GRAPH_LATENCY = 0.02  # seconds per Graph request: the archive takes a few seconds
REMINDER_SECONDS = 3.0  # an undecided case is reminded every 3 s
PERIOD_SECONDS = 0.6  # reminders and anchoring are looked for every 0.6 s
LEASE_SECONDS = 5  # a killed instance's job is taken over after 5 s (the minimum)
STALL = 60.0  # a wait fails when what it watches has not moved for this long
FREEZE = 10.0  # the longest a periodic lease's holder is frozen to make another take over

STAFF_CHAT = "a:personal-staff-1"  # user_activity's default personal chat
TASKS = ("reminders", "evidence-anchors")  # periodic work whose runs are checked
REMINDED = re.compile(r"undecided reminder (\d+) sent")
PERIODIC = re.compile(r"periodic (\S+): run by (\S+) for ([0-9.]+)\.\.([0-9.]+)")


@dataclass(frozen=True)
class Run:
    """One run of a periodic task: who ran it, and the lease it held (epoch seconds)."""

    task: str
    worker: str
    start: float
    until: float


@dataclass
class Instance:
    """One ``mamoru serve`` process."""

    process: ChildProcess
    url: str

    @property
    def pid(self) -> int:
        return self.process.proc.pid


@dataclass
class Office:
    """Three instances and what surrounds them: Graph, the connector, the database."""

    tenant: Tenant
    connector: FakeConnector
    connector_url: str
    database_url: str
    env: dict[str, str]
    instances: list[Instance] = field(default_factory=list)
    http: aiohttp.ClientSession | None = None
    turns: int = 0

    async def post(self, activity: dict[str, Any]) -> dict[str, Any]:
        """Send an activity to the next live instance (round robin, as a load balancer)."""
        live = [i for i in self.instances if i.process.proc.poll() is None]
        instance = live[self.turns % len(live)]
        self.turns += 1
        assert self.http is not None
        async with self.http.post(f"{instance.url}/api/messages", json=activity) as response:
            assert response.status in (200, 202), (response.status, await response.text())
            if response.content_length == 0:
                return {}
            return dict(await response.json(content_type=None) or {})

    async def say(self, text: str, **who: Any) -> None:
        await self.post(user_activity(self.connector_url, text=text, **who))

    async def click(self, verb: str, data: dict[str, Any], **who: Any) -> dict[str, Any]:
        return await self.post(action_invoke(self.connector_url, verb, data, **who))

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    def periodic_runs(self) -> list[Run]:
        """Every periodic run in every instance's log, by the start of its lease."""
        runs = [
            Run(m[1], m[2], float(m[3]), float(m[4]))
            for i in self.instances
            for m in PERIODIC.finditer(i.process.log_text())
        ]
        return sorted(runs, key=lambda r: r.start)


async def until[T](
    what: str,
    probe: Callable[[], Awaitable[T]],
    office: Office,
    progress: Callable[[], Any],
) -> T:
    """Poll ``probe`` until it returns something true.

    Fails naming ``what`` only when ``progress`` (what the wait is made of: mails moved,
    runs logged) stayed the same for ``STALL`` seconds: a loaded machine makes the
    instances slower, not stuck, and a wait on wall time would fail them for it.
    """
    seen, moved = progress(), time.monotonic()
    while True:
        value = await probe()
        if value:
            return value
        now, current = time.monotonic(), progress()
        if current != seen:
            seen, moved = current, now
        elif now - moved > STALL:
            logs = "\n".join(f"--- {i.url}\n{i.process.log_tail(15)}" for i in office.instances)
            pytest.fail(f"{what}: nothing moved for {STALL:.0f} s (at {seen!r})\n{logs}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (the instances migrate it themselves)."""
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def office(database_url: str, tmp_path: Path) -> AsyncIterator[Office]:
    tenant = Tenant()
    seed_demo(tenant, flood=MAILS)
    sandbox: RunningSandbox = await start_sandbox(make_sandbox(tenant))
    connector, connector_server = await start_connector()
    connector_url = str(connector_server.make_url("")).rstrip("/")
    env = {
        **os.environ,
        "MAMORU_ALLOW_ANONYMOUS": "true",
        "MAMORU_DATA_DIR": str(tmp_path / "data"),  # shared, as the evidence container is
        "MAMORU_HOST": "127.0.0.1",
        "MAMORU_DATABASE_URL": database_url,
        "MAMORU_GRAPH_MODE": "sandbox",
        "MAMORU_GRAPH_SANDBOX_EMBEDDED": "false",
        "MAMORU_GRAPH_SANDBOX_URL": sandbox.root_url,
        "MAMORU_CONNECTOR_ORIGINS": connector_url,
        "MAMORU_MANAGER_GROUP_ID": DEMO_MANAGERS_GROUP_ID,
        "MAMORU_MANAGER_IDS": "",
        "MAMORU_DEPARTMENT_MAILBOX": DEMO_DEPARTMENT_MAILBOX,
        "MAMORU_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "MAMORU_ESCALATION_REMINDER_HOURS": str(REMINDER_SECONDS / 3600),
        "MAMORU_REMINDER_CHECK_MINUTES": str(PERIOD_SECONDS / 60),
        "MAMORU_EVIDENCE_ANCHOR_MINUTES": str(PERIOD_SECONDS / 60),
        "MAMORU_LOG_LEVEL": "DEBUG",  # the periodic runs' lines (ids and times only)
        "PYTHONUNBUFFERED": "1",
    }
    office = Office(tenant, connector, connector_url, database_url, env)
    try:
        # All three at the same moment, as App Service starts a scaled-out plan.
        for n in range(3):
            port = free_port()
            child = spawn_mamoru(port, tmp_path / f"mamoru-{n}.log", env)
            office.instances.append(Instance(child, f"http://127.0.0.1:{port}"))
        for instance in office.instances:
            await asyncio.to_thread(instance.process.wait_for_http, f"{instance.url}/healthz")
        sandbox.sandbox.faults.latency = GRAPH_LATENCY  # after start-up
        office.http = aiohttp.ClientSession()
        yield office
    finally:
        if office.http is not None:
            await office.http.close()
        await asyncio.gather(*(asyncio.to_thread(i.process.stop) for i in office.instances))
        await connector_server.close()
        await sandbox.close()


def pid_of(worker: str) -> int:
    """The process id in a worker id (``host:pid:…``)."""
    return int(worker.split(":")[1])


async def hand_over(office: Office, task: str, survivors: list[Instance]) -> None:
    """Freeze the holder of ``task``'s lease until another survivor has run ``task``.

    The holder is stopped with SIGSTOP (a paused host: its lease runs out, its process
    stays), and thawed once a run of ``task`` by someone else is logged. If none comes
    within ``FREEZE`` seconds (the holder froze mid-upsert, so the other's take waits for
    its row lock, or the machine is very slow) it is thawed and frozen again.
    """
    for _ in range(10):
        (row,) = await office.fetch("SELECT owner FROM leases WHERE name = $1", task)
        holder = str(row["owner"])
        (frozen,) = [i for i in survivors if i.pid == pid_of(holder)]
        since = time.time()
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + FREEZE
            while time.monotonic() < deadline:
                if any(
                    r.task == task and r.worker != holder and r.start > since
                    for r in office.periodic_runs()
                ):
                    return
                await asyncio.sleep(0.05)
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
    pytest.fail(f"{task}: no other instance ran it while its lease holder was frozen")


async def report(office: Office, n: int) -> str:
    """The staff member reports a mass-email case; its id."""
    body = await office.click(
        "incident.report.submit",
        {
            "submission_id": f"scaleout-{n:04d}-abcdef",
            "type": "mass-email",
            "what_happened": f"九条という人から毎日100通以上（{n}）",
            "counterpart": DEMO_ABUSER,
            "locale": "ja",
        },
        **STAFF,
    )
    title = body["value"]["body"][0]["text"]
    match = re.search(r"KH-\d{4}-\d{4}", title)
    assert match, title
    return match.group(0)


def thread_of(office: Office, case: str) -> str:
    """The conversation id of the case's thread in the managers' channel."""
    # Its card's buttons name it; a linked case is named too, but less often.
    (thread,) = [
        t
        for t in office.connector.threads
        if Counter(re.findall(r"'incident': '(KH-[0-9-]+)'", str(t["params"]))).most_common(1)[0][0]
        == case
    ]
    return str(thread["id"])


def reminders_in(office: Office, thread: str) -> list[dict[str, Any]]:
    """The undecided-case reminders posted in the case's thread so far."""
    return [
        s.activity
        for s in office.connector.sent
        if s.conversation_id == thread and s.method == "POST" and "判断待ち" in str(s.activity)
    ]


async def test_three_instances_one_killed_mid_job(office: Office) -> None:
    box = office.tenant.mailboxes[office.tenant.by_upn[DEMO_MAILBOX]]
    from_sender = {m.immutable_id for m in box.messages.values() if m.from_address == DEMO_ABUSER}
    assert len(from_sender) == MAILS
    messages_before = len(box.messages)

    await office.say("setup", **in_channel(**KACHO))  # the managers' channel
    await office.say("こんにちは", **STAFF)
    archived_case = await report(office, 1)
    undecided_case = await report(office, 2)

    async def escalated() -> bool:
        return len(office.connector.threads) == 2

    await until(
        "both cases escalated to the managers' channel",
        escalated,
        office,
        lambda: (len(office.connector.threads), len(office.tenant.requests)),
    )
    # The thread is posted before its escalation job is marked done; the manager clicks
    # once both jobs are (the card carries the escalation's state, stored by then).
    escalations: list[str] = []

    async def escalation_jobs_done() -> bool:
        escalations[:] = [
            str(r["state"])
            for r in await office.fetch("SELECT state FROM jobs WHERE kind = 'escalate'")
        ]
        return escalations == ["succeeded"] * 2

    await until(
        "both escalation jobs done", escalation_jobs_done, office, lambda: tuple(escalations)
    )
    undecided_thread = thread_of(office, undecided_case)

    body = await office.click(
        "escalation.approve",
        {"incident": archived_case, "act.mail-protection": "true"},
        **in_channel(**KACHO),
    )
    assert "が承認（" in str(body["value"]), body  # esc.approved_by: "✅ … が承認（…）"

    def evidence_folder() -> str | None:
        return str(box.rules[0]["actions"]["moveToFolder"]) if box.rules else None

    def archived() -> int:
        folder = evidence_folder()
        return sum(1 for i in from_sender if box.messages[i].folder_id == folder)

    async def a_third_archived() -> bool:
        return evidence_folder() is not None and archived() >= MAILS // 3

    await until("a third of the mails archived", a_third_archived, office, archived)
    # Kill whichever instance runs the job, as a crashed host would end it.
    (holder,) = await office.fetch(
        "SELECT lease_owner FROM jobs WHERE incident_id = $1 AND state = 'running'",
        archived_case,
    )
    pid = pid_of(str(holder["lease_owner"]))
    (victim,) = [i for i in office.instances if i.pid == pid]
    assert archived() < MAILS, "the job ended before the kill: make it longer"
    os.kill(victim.pid, signal.SIGKILL)
    victim.process.proc.wait()
    killed_at = time.time()
    reminders_before_kill = len(reminders_in(office, undecided_thread))

    def done_notices() -> list[dict[str, Any]]:
        return [
            s.activity
            for s in office.connector.sent
            if s.conversation_id.startswith(STAFF_CHAT)
            and s.method == "POST"
            and "☑" in str(s.cards)
        ]

    job_state = ""

    async def finished() -> bool:
        nonlocal job_state
        (job,) = await office.fetch(
            "SELECT state FROM jobs WHERE incident_id = $1 AND kind <> 'escalate'", archived_case
        )
        job_state = str(job["state"])
        return job_state == "succeeded" and archived() == MAILS and bool(done_notices())

    # Nothing moves for the lease (5 s) while the killed instance's job waits to be taken.
    await until(
        "the job finished by the two others and the staff member told",
        finished,
        office,
        lambda: (job_state, archived(), len(done_notices())),
    )

    # Which instance's tick comes first after a lease runs out depends on how the
    # instances' ticks line up, so a hand-over of periodic work is made certain: the
    # holder of each task's lease is frozen (SIGSTOP, as a paused host) until the other
    # survivor has run the task, then thawed; it must not run a period the other holds.
    survivors = [i for i in office.instances if i is not victim]
    for task in TASKS:
        await hand_over(office, task, survivors)

    # A few more periods of every periodic task after that, by the two survivors, so a
    # second notice or a second run in one period would have had its chance.
    settled_at = max(time.time(), killed_at + LEASE_SECONDS)

    def runs_after() -> int:
        return sum(1 for r in office.periodic_runs() if r.start > settled_at)

    async def periods_after() -> bool:
        later = [r for r in office.periodic_runs() if r.start > settled_at]
        return all(sum(1 for r in later if r.task == task) >= 3 for task in TASKS)

    await until("three more periods of the periodic work", periods_after, office, runs_after)

    def reminded_in_logs() -> list[int]:
        return [int(n) for i in office.instances for n in REMINDED.findall(i.process.log_text())]

    # A reminder the connector has is logged by its sender a moment after the answer.
    async def reminders_logged() -> bool:
        return len(reminded_in_logs()) >= len(reminders_in(office, undecided_thread))

    await until(
        "every posted reminder logged by its sender",
        reminders_logged,
        office,
        lambda: len(reminded_in_logs()),
    )
    reminders = reminders_in(office, undecided_thread)
    reminded = reminded_in_logs()

    # No lost work, no double job: every mail moved exactly once, all in the evidence
    # folder, none left in the Inbox, none deleted.
    folder = evidence_folder()
    assert archived() == MAILS
    moves = Counter(
        box.message(r.path.split("/messages/")[1].split("/")[0]).immutable_id
        for r in office.tenant.requests
        if r.method == "POST" and r.path.endswith("/move") and r.status == 201
    )
    assert set(moves) == from_sender and max(moves.values()) == 1, moves.most_common(3)
    inbox = box.folder("inbox")
    assert inbox is not None and not [
        i for i in from_sender if box.messages[i].folder_id == inbox.id
    ]
    assert len(box.messages) == messages_before
    assert not [r for r in office.tenant.requests if r.method == "DELETE"]
    evidence = await office.fetch(
        "SELECT count(*) AS n, count(DISTINCT dedup_key) AS d FROM evidence"
        " WHERE case_id = $1 AND dedup_key IS NOT NULL",
        archived_case,
    )
    assert (evidence[0]["n"], evidence[0]["d"]) == (MAILS, MAILS)
    assert folder is not None

    # No double notice: the staff member heard "finished" once, from its outbox row.
    assert len(done_notices()) == 1, done_notices()
    outbox = await office.fetch(
        "SELECT key, outcome FROM notice_outbox WHERE incident_id = $1", archived_case
    )
    assert [r["outcome"] for r in outbox if "=done" in r["key"]] == ["sent"], outbox

    # Reminders of the undecided case: each period's reminder posted once, by whichever
    # instance noticed it first; they went on after the kill. Each case escalated once.
    assert reminded and len(reminded) == len(set(reminded)) == len(reminders), sorted(reminded)
    assert len(reminders) > reminders_before_kill
    assert len(office.connector.threads) == 2

    # Periodic work once per period across the three: each run held the task's lease
    # (0.9 of the period) and no two runs' leases overlap, whichever instances ran them
    # (each task was run by at least two, the hand-over above made sure of it, and the
    # frozen holder, thawed, ran no period another held); the survivors went on after
    # the kill.
    runs = office.periodic_runs()
    for task in TASKS:
        mine = [r for r in runs if r.task == task]
        overlaps = [(a, b) for a, b in itertools.pairwise(mine) if b.start < a.until]
        assert not overlaps, overlaps[:3]
        assert all(r.until - r.start >= 0.9 * PERIOD_SECONDS - 0.001 for r in mine)
        assert len({r.worker for r in mine}) >= 2, (task, Counter(r.worker for r in mine))
        after = {r.worker for r in mine if r.start > killed_at + LEASE_SECONDS}
        assert after and not any(pid_of(w) == victim.pid for w in after)

    # The evidence verifies, against the anchors written outside the database.
    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "evidence", "verify", archived_case],
        cwd=REPO_ROOT,
        env=office.env,
        capture_output=True,
        text=True,
        timeout=STALL,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "matches the anchor" in verify.stdout
