"""Approval benchmark (not a test): issues 5 and 12, against ``mamoru serve`` over HTTP.

Mamoru runs as a child process (``python -m bot serve``, anonymous, job runner on, its
own SQLite database), as in production: Teams and Graph are outside it. This process
hosts what is outside: a stand-in Bot Connector (tests/support/connector.py, the
Playground's behaviour), the local Graph service with the demo office (managers are
its Entra group, asked of Graph on every decision) and the clients.

(a) ``latency``: N distinct cases (default 50) are reported by 田中 花子 and escalated
    into the managers' channel; then 高橋 課長 and 伊藤 部長 approve all of them at
    the same moment (N concurrent ``escalation.approve`` invokes). Measured: from
    sending each POST to its HTTP response (the invoke response with the updated card),
    p50 / p99 / max. The approved jobs start running in Mamoru meanwhile, as they would.
    Target (issue 12): p99 ≤ 400 ms, one instance on PostgreSQL. Then one approval with
    the same data counted in this process: statements and transactions until the answer
    and after it (tests/support/dbcount.py).
(c) ``load``: one case whose mailbox holds M mails (default 1,000) from the sender,
    approved for mail protection in this process (the counter needs the bot's engines;
    tests/support/dbcount.py, as tests/teams/test_approval_cost.py): statements and
    transactions until the answer, then per archived mail until the job and its card
    updates are done; and how many times the thread's card was updated meanwhile
    (coalesced progress: at most one refresh per case every 3 s).
(b) ``archive``: one case whose mailbox holds M mails (default 5,000) from the sender,
    Graph configured with Microsoft's limits (10,000 requests / 10 min and 4 concurrent
    per app and mailbox) and ~100 ms per request. Measured: from the approval's POST to
    the moment the last of the sender's messages is in the evidence folder; printed as
    a ratio to the floor those limits impose on the requests the service executed
    (bench/archive.py's ``floor_seconds``, with the arithmetic).

    .venv/bin/python bench/approval.py            # both; (b) takes about 11 minutes
    .venv/bin/python bench/approval.py --quick    # about a minute: 1,000 mails, limits
                                                  # scaled to 1,000 / 30 s, 20 ms
    .venv/bin/python bench/approval.py --only latency --profile /tmp/approve.prof
    .venv/bin/python bench/approval.py --only load   # (c) on PostgreSQL; --db sqlite

Figures and how to read them: docs/performance.md ("Approvals").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.archive import floor_seconds  # noqa: E402
from graph.sandbox import (  # noqa: E402
    Limits,
    RunningSandbox,
    Tenant,
    make_sandbox,
    seed_demo,
    start_sandbox,
)
from graph.sandbox.seed import (  # noqa: E402
    DEMO_ABUSER,
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_USER_IDS,
)
from tests.support.connector import (  # noqa: E402
    FakeConnector,
    action_invoke,
    start_connector,
    user_activity,
)
from tests.support.office import BUCHO, KACHO, STAFF  # noqa: E402

CHANNEL = "19:managers@thread.tacv2"
MANAGERS = [KACHO, BUCHO]
APPROVE_ALL = {  # what a manager approves on the card (the defaults, one draft edited)
    "act.mail-protection": "true",
    "act.cutoff-declaration": "true",
    "draft.cutoff-declaration": "本件に関する当課からの回答は以上です。",
    "act.it-domain-filter": "false",
    "act.police-consultation": "true",
    "comment": "ベンチマーク",
}
APPROVE_TASKS = {  # only actions for people: no job is enqueued (isolates the invoke path)
    "act.mail-protection": "false",
    "act.cutoff-declaration": "false",
    "act.it-domain-filter": "false",
    "act.police-consultation": "true",
}
TARGET_P99 = 0.400  # issue 12: 50 concurrent approvals, one instance on PostgreSQL


def in_channel(who: dict[str, str]) -> dict[str, Any]:
    return {
        "conversation_id": f"{CHANNEL};messageid=1",
        "conversation_type": "channel",
        "channelData": {"channel": {"id": CHANNEL}},
        **who,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class World:
    """Mamoru (a child process) and what surrounds it in this process."""

    sandbox: RunningSandbox
    connector: FakeConnector
    connector_url: str
    bot_url: str
    bot: subprocess.Popen[bytes]
    http: aiohttp.ClientSession
    env: dict[str, str]
    tmp: Path
    more: list[tuple[str, subprocess.Popen[bytes]]]  # further instances (PostgreSQL only)

    @property
    def instances(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        return [(self.bot_url, self.bot), *self.more]

    async def post(
        self, activity: dict[str, Any], instance: int = 0
    ) -> tuple[int, dict[str, Any], float]:
        """POST one activity to one instance; (status, JSON body, seconds to the response)."""
        url = self.instances[instance][0]
        start = time.perf_counter()
        async with self.http.post(f"{url}/api/messages", json=activity) as r:
            body = await r.json(content_type=None) if r.content_length != 0 else None
            return r.status, body or {}, time.perf_counter() - start

    async def say(self, text: str, **who: Any) -> None:
        status, _, _ = await self.post(user_activity(self.connector_url, text=text, **who))
        assert status in (200, 202), status

    async def click(
        self, verb: str, data: dict[str, Any], instance: int = 0, **who: Any
    ) -> tuple[int, dict[str, Any], float]:
        return await self.post(action_invoke(self.connector_url, verb, data, **who), instance)

    async def add_instance(self) -> None:
        """One more ``mamoru serve`` on the same database (PostgreSQL)."""
        n = len(self.instances)
        url, bot = await _serve(self.env, self.tmp / f"mamoru-{n}.log", None)
        self.more.append((url, bot))


async def _serve(
    env: dict[str, str], log_path: Path, profile: Path | None
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    argv = [sys.executable]
    if profile:
        argv += ["-m", "cProfile", "-o", str(profile)]
    argv += ["-m", "bot", "serve", "--port", str(port)]
    bot = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if bot.poll() is not None:
            raise SystemExit(f"mamoru exited; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                break
        except OSError:
            await asyncio.sleep(0.2)
    return url, bot


async def start_world(
    tenant: Tenant,
    limits: Limits,
    latency: float,
    tmp: Path,
    profile: Path | None,
    database_url: str = "",
    extra_env: dict[str, str] | None = None,
) -> World:
    sandbox = make_sandbox(tenant, limits)
    running = await start_sandbox(sandbox)
    connector, connector_server = await start_connector()
    env = {
        **os.environ,
        "MAMORU_ALLOW_ANONYMOUS": "true",
        "MAMORU_DATA_DIR": str(tmp),
        "MAMORU_HOST": "127.0.0.1",
        "MAMORU_GRAPH_MODE": "sandbox",
        "MAMORU_GRAPH_SANDBOX_EMBEDDED": "false",
        "MAMORU_GRAPH_SANDBOX_URL": running.root_url,
        "MAMORU_MANAGER_GROUP_ID": DEMO_MANAGERS_GROUP_ID,
        "MAMORU_MANAGER_IDS": "",
        "MAMORU_DEPARTMENT_MAILBOX": DEMO_DEPARTMENT_MAILBOX,
        "MAMORU_LOG_LEVEL": "WARNING",
        "MAMORU_DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    url, bot = await _serve(env, tmp / "mamoru.log", profile)
    sandbox.faults.latency = latency  # after start-up: the seed is not what is measured
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    connector_url = str(connector_server.make_url("")).rstrip("/")
    world = World(running, connector, connector_url, url, bot, http, env, tmp, [])
    world._connector_server = connector_server  # type: ignore[attr-defined]
    return world


async def stop_world(world: World) -> None:
    await world.http.close()
    for _, bot in world.instances:
        bot.terminate()  # SIGTERM: aiohttp shuts down cleanly (cProfile writes its file)
    for _, bot in world.instances:
        try:
            bot.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bot.kill()
    await world._connector_server.close()  # type: ignore[attr-defined]
    await world.sandbox.close()


async def report_cases(world: World, n: int, prefix: str) -> list[str]:
    """N incidents reported by the staff member and escalated to the channel; their ids."""
    await world.say("setup", **in_channel(MANAGERS[0]))
    await world.say("こんにちは", **in_channel(MANAGERS[1]))  # known to the bot too
    await world.say("こんにちは", **STAFF)
    ids = []
    for i in range(n):
        status, body, _ = await world.click(
            "incident.report.submit",
            {
                "submission_id": f"{prefix}-{i:06d}-abcdef",
                "type": "mass-email",
                "what_happened": f"九条という人から毎日100通以上（{i}）",
                "counterpart": DEMO_ABUSER,
                "locale": "ja",
            },
            **STAFF,
        )
        assert status == 200, (status, body)
        title = body["value"]["body"][0]["text"]
        start = title.index("KH-")
        ids.append(title[start : start + 12])
    deadline = time.monotonic() + 120
    while len(world.connector.threads) < n:  # Mamoru's runner escalates them
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(world.connector.threads)} of {n} cases were escalated")
        await asyncio.sleep(0.2)
    return ids


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Burst:
    """N approvals sent at the same moment, and what they cost."""

    times: list[float]
    statuses: list[int]
    approved: int
    wall: float
    cpu: float  # every instance's CPU seconds over the burst
    graph: int
    transactions: int | None  # PostgreSQL's committed + rolled back, whole database

    @property
    def p99(self) -> float:
        return percentile(self.times, 99)

    def print(self, label: str) -> None:
        n = len(self.times)
        print(
            f"  {label}: {n} concurrent approvals: p50 {percentile(self.times, 50) * 1000:.0f} ms,"
            f" p99 {self.p99 * 1000:.0f} ms, max {max(self.times) * 1000:.0f} ms;"
            f" all answered within {self.wall * 1000:.0f} ms"
        )
        tx = f", {self.transactions / n:.1f} transactions" if self.transactions else ""
        print(
            f"    HTTP {sorted(set(self.statuses))},"
            f" cards showing the approval {self.approved}/{n};"
            f" Mamoru CPU {self.cpu / n * 1000:.1f} ms per approval (jobs starting meanwhile"
            f" included){tx} per approval on the database; Graph {self.graph / n:.1f} per approval"
        )


async def _pg_transactions(database_url: str) -> int | None:
    if not database_url:
        return None
    import asyncpg

    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name
        )
        return int(value)
    finally:
        await conn.close()


async def burst(
    world: World, tenant: Tenant, cases: list[str], approval: dict[str, str], database_url: str
) -> Burst:
    """Approve ``cases`` at the same moment, spread over the running instances."""
    instances = len(world.instances)
    cpu0 = sum(cpu_seconds(bot.pid) for _, bot in world.instances)
    graph0, tx0 = len(tenant.requests), await _pg_transactions(database_url)
    wall0 = time.perf_counter()
    results = await asyncio.gather(
        *(
            world.click(
                "escalation.approve",
                {"incident": case, **approval},
                i % instances,
                **in_channel(MANAGERS[i % 2]),
            )
            for i, case in enumerate(cases)
        )
    )
    wall = time.perf_counter() - wall0
    cpu = sum(cpu_seconds(bot.pid) for _, bot in world.instances) - cpu0
    tx1 = await _pg_transactions(database_url)
    return Burst(
        times=[r[2] for r in results],
        statuses=[r[0] for r in results],
        approved=sum("承認" in str(r[1]) for r in results),
        wall=wall,
        cpu=cpu,
        graph=len(tenant.requests) - graph0,
        transactions=None if tx0 is None or tx1 is None else tx1 - tx0,
    )


async def bench_latency(args: argparse.Namespace, database_url: str) -> bool:
    """(a): N concurrent approvals of N distinct escalated cases, one instance then two."""
    tenant = Tenant()
    seed_demo(tenant, flood=args.latency_flood)
    two = bool(database_url) and args.instances >= 2
    n = args.cases - 1  # the first one is approved alone, as a baseline
    with tempfile.TemporaryDirectory() as tmp:
        world = await start_world(tenant, Limits(), 0.0, Path(tmp), args.profile, database_url)
        try:
            total = 1 + n * (2 if two else 1)  # each burst its own cases
            where = "PostgreSQL" if database_url else "SQLite"
            print(f"\n(a) {total} cases reported and escalated ({where})...", flush=True)
            ids = await report_cases(world, total, "bench-a")
            # One sequential approval first, on its own case, as a baseline (warm caches).
            approval = APPROVE_TASKS if args.tasks_only else APPROVE_ALL
            status, _, single = await world.click(
                "escalation.approve", {"incident": ids[0], **approval}, **in_channel(MANAGERS[0])
            )
            assert status == 200
            await asyncio.sleep(args.settle)
            one = await burst(world, tenant, ids[1 : n + 1], approval, database_url)
            both = None
            if two:
                await world.add_instance()
                await asyncio.sleep(args.settle)  # the first burst's jobs settle
                both = await burst(world, tenant, ids[n + 1 :], approval, database_url)
        finally:
            await stop_world(world)
    print(f"  one approval alone (after escalation settled): {single * 1000:.0f} ms")
    one.print("one instance")
    ok = set(one.statuses) == {200} and one.approved == n
    if both is not None:
        both.print("two instances")
        ok &= set(both.statuses) == {200} and both.approved == n
        print(
            f"  two instances ÷ one: p99 {both.p99 / one.p99:.2f}×, "
            f"CPU per approval {both.cpu / one.cpu:.2f}×"
        )
    met = one.p99 < TARGET_P99
    print(
        f"  target p99 < {TARGET_P99 * 1000:.0f} ms (one instance): {'met' if met else 'NOT met'}"
    )
    if args.profile:
        print(f"  profile of the bot process: {args.profile} (python -m pstats)")
    return ok


async def bench_archive(args: argparse.Namespace) -> bool:
    """(b): approval to the last archived message, against Microsoft's limits."""
    limits = Limits(requests_per_window=args.budget, window_seconds=args.window)
    tenant = Tenant()
    seed_demo(tenant, flood=args.mails)
    box = tenant.mailboxes[tenant.by_upn[DEMO_MAILBOX]]
    from_sender = [m for m in box.messages.values() if m.from_address == DEMO_ABUSER]
    with tempfile.TemporaryDirectory() as tmp:
        world = await start_world(tenant, limits, args.latency, Path(tmp), None)
        try:
            print(
                f"\n(b) {len(from_sender):,} mails from the sender; limits "
                f"{limits.requests_per_window:,} requests / {limits.window_seconds:g} s, "
                f"{limits.concurrency} concurrent, {args.latency * 1000:.0f} ms per request",
                flush=True,
            )
            (case,) = await report_cases(world, 1, "bench-b")
            stats_before = _executed(world)
            approval = {"incident": case, "act.mail-protection": "true"}
            start = time.perf_counter()
            status, _, answered = await world.click(
                "escalation.approve", approval, **in_channel(MANAGERS[0])
            )
            assert status == 200
            last_move, deadline = None, time.monotonic() + args.timeout
            while last_move is None:
                if time.monotonic() > deadline:
                    raise SystemExit(f"not archived within {args.timeout:.0f}s")
                await asyncio.sleep(0.05)
                folder = box.rules[0]["actions"]["moveToFolder"] if box.rules else None
                if folder and all(m.folder_id == folder for m in from_sender):
                    last_move = time.perf_counter()
            elapsed = last_move - start
            executed = _executed(world) - stats_before
            folder_messages = sum(1 for m in box.messages.values() if m.folder_id == folder)
        finally:
            await stop_world(world)
    floor, arithmetic = floor_seconds(executed, limits, args.latency)
    ratio = elapsed / floor
    n = len(from_sender)
    print(f"  invoke answered in {answered * 1000:.0f} ms")
    print(f"  approval -> last archived message: {elapsed:.1f} s ({n / elapsed:.1f} msg/s)")
    print(
        f"  Graph requests executed after the approval: {executed:,} "
        f"({executed / n:.3f} per message)"
    )
    print(f"  floor: {arithmetic}")
    print(f"  ratio to floor: {elapsed:.1f} / {floor:.1f} = {ratio:.3f}")
    print(f"  evidence folder holds {folder_messages:,} messages ({n:,} from the sender)")
    return folder_messages >= n


def _in_process_settings(data_dir: Path, database_url: str, graph_url: str) -> Any:
    """Settings of the bot built in this process (as the tests build it) on the demo office."""
    from bot.config import Settings

    return Settings(
        allow_anonymous=True,
        data_dir=data_dir,
        database_url=database_url,
        graph_sandbox_embedded=False,
        graph_sandbox_url=graph_url,
        manager_group_id=DEMO_MANAGERS_GROUP_ID,
        manager_ids="",
        department_mailbox=DEMO_DEPARTMENT_MAILBOX,
        _env_file=None,
    )


async def bench_load(args: argparse.Namespace, database_url: str) -> bool:
    """(c): what approving the archive of an M-mail case costs the database afterwards.

    In this process (the counter needs the bot's engines): the bot as the tests build it,
    the local Graph service without latency or throttling, the job runner driven until
    idle. Counted: every statement and transaction on the bot's engines from the approval
    to the end of the archive job and its card updates; and the thread card's updates.
    """
    from bot.cases.escalation import REFRESH_EVERY_SECONDS
    from tests.support.connector import in_channel as channel_of
    from tests.support.dbcount import Counter, counting
    from tests.teams.conftest import start_bot
    from tests.teams.test_protection_flow import BUCHO, reported_and_escalated

    tenant = Tenant()
    seed_demo(tenant, flood=args.load_mails)
    box = tenant.mailboxes[tenant.by_upn[DEMO_MAILBOX]]
    n = sum(1 for m in box.messages.values() if m.from_address == DEMO_ABUSER)
    running = await start_sandbox(make_sandbox(tenant, Limits()))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = _in_process_settings(Path(tmp), database_url, running.root_url)
            async for bot in start_bot(settings):
                escalations = bot.services.escalations
                escalations.refresh_every = REFRESH_EVERY_SECONDS  # as in production
                case = await reported_and_escalated(bot)  # as the protection flow test
                engines = bot.services.persistence.engines
                counter = Counter(())
                with counting({engines.write, engines.read}, counter):
                    start = time.perf_counter()
                    approve = action_invoke(
                        bot.connector_url,
                        "escalation.approve",
                        {"incident": case, "act.mail-protection": "true"},
                        **channel_of(**BUCHO),
                    )
                    bot.connector.clear()
                    async with bot.http.post(f"{bot.url}/api/messages", json=approve) as r:
                        status = r.status
                        answered = (counter.all_statements, counter.all_transactions)
                    await bot.services.runner.run_until_idle()
                    await escalations.drain()
                    elapsed = time.perf_counter() - start
                updates = sum(1 for sent in bot.connector.sent if sent.method == "PUT")
                folder = box.rules[0]["actions"]["moveToFolder"] if box.rules else None
                archived = sum(
                    1
                    for m in box.messages.values()
                    if m.from_address == DEMO_ABUSER and m.folder_id == folder
                )
    finally:
        await running.close()
    after = counter.all_statements - answered[0]
    tx = counter.all_transactions - answered[1]
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"\n(c) approval of a {n:,}-mail case ({where}), archived in {elapsed:.1f} s")
    print(
        f"  until the answer: {answered[0]} statements in {answered[1]} transactions;"
        f" after it: {after:,} statements in {tx:,} transactions"
        f" = {after / n:.2f} statements and {tx / n:.2f} transactions per archived mail"
    )
    print(
        f"  thread card updates: {updates} in {elapsed:.1f} s"
        f" (coalesced: at most one per case every {REFRESH_EVERY_SECONDS:g} s)"
    )
    return status == 200 and archived >= n


async def count_one_approval(database_url: str) -> None:
    """Statements and transactions of one approval with the card's defaults, counted in
    this process on the bot's engines (as tests/teams/test_approval_cost.py does): the
    invoke until its answer, then the notice and the card refresh that follow it."""
    from tests.support.connector import in_channel as channel_of
    from tests.support.dbcount import Counter, counting
    from tests.teams.conftest import start_bot
    from tests.teams.test_protection_flow import BUCHO, reported_and_escalated

    tenant = Tenant()
    seed_demo(tenant, flood=20)
    running = await start_sandbox(make_sandbox(tenant, Limits()))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = _in_process_settings(Path(tmp), database_url, running.root_url)
            async for bot in start_bot(settings):
                case = await reported_and_escalated(bot)
                engines = bot.services.persistence.engines
                counter = Counter(bot.services.escalations._background)
                approve = action_invoke(
                    bot.connector_url,
                    "escalation.approve",
                    {"incident": case, **APPROVE_ALL},
                    **channel_of(**BUCHO),
                )
                with counting({engines.write, engines.read}, counter):
                    async with bot.http.post(f"{bot.url}/api/messages", json=approve) as r:
                        await r.read()
                        answered = (counter.statements, counter.transactions)
                    await bot.services.escalations.drain()
    finally:
        await running.close()
    where = "PostgreSQL" if database_url else "SQLite"
    print(
        f"  statements per approval (card defaults, {where}, counted in process):"
        f" {answered[0]} in {answered[1]} transactions until the answer;"
        f" {counter.all_statements - answered[0]} in"
        f" {counter.all_transactions - answered[1]} after it (notice, card refresh)"
    )


def _executed(world: World) -> int:
    """Requests the service executed against the staff member's mailbox (the limits are
    per app and mailbox)."""
    from graph.sandbox.server import stats

    keys = {DEMO_MAILBOX, DEMO_USER_IDS[DEMO_MAILBOX]}
    rows = stats(world.sandbox.sandbox)["throttle"]
    return sum(s["executed"] for s in rows if str(s["mailbox"]).lower() in keys)


async def main_async(args: argparse.Namespace) -> int:
    ok = True
    if args.only in (None, "latency"):
        async with database(args.db) as url:
            ok &= await bench_latency(args, url)
        async with database(args.db) as url:
            await count_one_approval(url)
    if args.only in (None, "load"):
        async with database(args.db) as url:
            ok &= await bench_load(args, url)
    if args.only in (None, "archive"):
        ok &= await bench_archive(args)
    return 0 if ok else 1


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards), or "" for
    each instance's own SQLite file."""
    if kind == "sqlite":
        yield ""
        return
    from tests.store.backends import _create_database, _drop_database

    url, name = await _create_database()
    try:
        yield url
    finally:
        await _drop_database(name)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", choices=["latency", "load", "archive"])
    p.add_argument(
        "--db",
        choices=["postgres", "sqlite"],
        default="postgres",
        help="(a): a fresh PostgreSQL database on 127.0.0.1:5432, or SQLite",
    )
    p.add_argument("--instances", type=int, default=2, help="(a) on PostgreSQL: 1 or 2")
    p.add_argument("--cases", type=int, default=51, help="(a) cases: 1 baseline + 50 at once")
    p.add_argument("--latency-flood", type=int, default=20, help="(a) mails in the mailbox")
    p.add_argument("--settle", type=float, default=3.0, help="(a) seconds after the baseline")
    p.add_argument(
        "--tasks-only",
        action="store_true",
        help="(a) approve only tasks for people: no jobs, the invoke path alone",
    )
    p.add_argument("--profile", type=Path, help="(a) run Mamoru under cProfile, write here")
    p.add_argument("--load-mails", type=int, default=1_000, help="(c) mails in the case")
    p.add_argument("--mails", type=int, default=5_000)
    p.add_argument("--latency", type=float, default=0.1, help="(b) Graph latency, seconds")
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--window", type=float, default=600.0)
    p.add_argument("--timeout", type=float, default=1_800.0)
    p.add_argument("--quick", action="store_true", help="(b) 1,000 mails, 1,000 / 30 s, 20 ms")
    args = p.parse_args()
    if args.quick:
        args.mails, args.budget, args.window, args.latency = 1_000, 1_000, 30.0, 0.02
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
