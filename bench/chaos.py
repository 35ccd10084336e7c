"""Chaos run (not a test): an approved archive survives Graph faults, a database
connection kill and ``kill -9`` of the bot, by itself.

Mamoru runs as ``mamoru serve`` child processes on a fresh PostgreSQL database
(127.0.0.1:5432), with the local Graph service (Microsoft's limits: 10,000 requests /
10 min and 4 concurrent per app and mailbox) and a stand-in Bot Connector in this
process, as bench/approval.py does. A staff member reports a case with M mails from
one sender (default 3,000); a manager approves mail protection through the bot's HTTP
endpoint. From the invoke's answer on, Graph injects the fault mix (default 30 % 429
with Retry-After, 10 % 503, 5 % dropped connections); while the job runs, the bot is
``kill -9``-ed K times (default 5, each at a further share of the mails archived) and
restarted at once, and once every connection of the bot to PostgreSQL is ended
(``pg_terminate_backend``). Nobody touches the job: no CLI, no resume click.

Printed: lost / duplicated / deleted mails, the job's end state, how many times the
staff member was told the protection finished (must be exactly once), the output of
``mamoru evidence verify`` for the case, and the time against the throttling floor.

    .venv/bin/python bench/chaos.py                    # 3,000 mails, 5 kills: minutes
    .venv/bin/python bench/chaos.py --kills 0          # faults and the database kill only
    .venv/bin/python bench/chaos.py --mails 300 --kills 2 --lease 10   # a quick look

Exit status 0 when every check holds. Documented in docs/jobs.md ("Chaos run").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.approval import (  # noqa: E402
    MANAGERS,
    _executed,
    _serve,
    database,
    in_channel,
    report_cases,
    start_world,
    stop_world,
)
from bench.archive import floor_seconds  # noqa: E402
from graph.sandbox import Limits, Tenant, seed_demo  # noqa: E402
from graph.sandbox.seed import DEMO_ABUSER, DEMO_MAILBOX  # noqa: E402

STAFF_CONVERSATION = "a:personal-staff-1"  # user_activity's default personal chat
DONE = "☑"  # how the staff member's notice lists a finished action


def plain_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg", "postgresql")


async def kill_connections(database_url: str) -> int:
    """End every other session on the bot's database, as a failover would."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        name = database_url.rsplit("/", 1)[1]
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return len(rows)
    finally:
        await conn.close()


async def job_rows(database_url: str, case: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return await conn.fetch(
            "SELECT kind, state, attempts, last_error, progress_done, progress_total"
            " FROM jobs WHERE incident_id = $1 AND kind <> 'escalate'",
            case,
        )
    finally:
        await conn.close()


async def evidence_mails(database_url: str, case: str) -> Counter[str]:
    """How many times each mail (internet message id) is in the case's evidence."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        rows = await conn.fetch(
            "SELECT entry FROM evidence WHERE case_id = $1 AND dedup_key IS NOT NULL", case
        )
    finally:
        await conn.close()
    seen: Counter[str] = Counter()
    for row in rows:
        data = json.loads(row["entry"]).get("data") or {}
        seen[data.get("internet_message_id") or data.get("immutable_id")] += 1
    return seen


async def run(args: argparse.Namespace) -> int:
    tenant = Tenant()
    seed_demo(tenant, flood=args.mails)
    box = tenant.mailboxes[tenant.by_upn[DEMO_MAILBOX]]
    from_sender = [m for m in box.messages.values() if m.from_address == DEMO_ABUSER]
    messages_before = len(box.messages)
    limits = Limits()
    async with database("postgres") as url:
        with tempfile.TemporaryDirectory() as tmp:
            world = await start_world(
                tenant,
                limits,
                args.latency,
                Path(tmp),
                None,
                url,
                {"MAMORU_JOB_LEASE_SECONDS": str(args.lease)},
            )
            faults = world.sandbox.sandbox.faults
            kills, db_kills, ended = 0, 0, None
            try:
                print(
                    f"{len(from_sender):,} mails from the sender;"
                    f" Graph {limits.requests_per_window:,}"
                    f" requests / {limits.window_seconds:g} s, {limits.concurrency} concurrent,"
                    f" {args.latency * 1000:.0f} ms per request; faults after the approval:"
                    f" 429 {args.rate_429:.0%}, 503 {args.rate_503:.0%}, dropped"
                    f" {args.rate_drop:.0%}; {args.kills} x kill -9, 1 database connection kill;"
                    f" job lease {args.lease:g} s",
                    flush=True,
                )
                (case,) = await report_cases(world, 1, "chaos")
                executed0 = _executed(world)
                start = time.monotonic()
                status, body, _ = await world.click(
                    "escalation.approve",
                    {"incident": case, "act.mail-protection": "true"},
                    **in_channel(MANAGERS[0]),
                )
                assert status == 200 and "承認" in str(body), (status, body)
                faults.update(
                    {
                        "rate429": args.rate_429,
                        "rate503": args.rate_503,
                        "rateDrop": args.rate_drop,
                        "retryAfter": args.retry_after,
                    }
                )
                marks = [(i + 1) / (args.kills + 2) for i in range(args.kills)]
                db_mark = (args.kills + 1.5) / (args.kills + 2)
                deadline = start + args.timeout
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    folder = box.rules[0]["actions"]["moveToFolder"] if box.rules else None
                    moved = sum(1 for m in from_sender if m.folder_id == folder) if folder else 0
                    share = moved / len(from_sender)
                    if kills < len(marks) and share >= marks[kills]:
                        world.bot.send_signal(signal.SIGKILL)
                        world.bot.wait()
                        kills += 1
                        t = time.monotonic() - start
                        print(f"  {t:6.1f} s  {moved:,} archived: kill -9 #{kills}", flush=True)
                        world.bot_url, world.bot = await _serve(
                            world.env, Path(tmp) / f"mamoru-restart-{kills}.log", None
                        )
                    elif db_kills == 0 and share >= db_mark:
                        n = await kill_connections(url)
                        db_kills += 1
                        t = time.monotonic() - start
                        print(
                            f"  {t:6.1f} s  {moved:,} archived: pg_terminate_backend"
                            f" ended {n} connections",
                            flush=True,
                        )
                    if ended is None and moved == len(from_sender):
                        ended = time.monotonic() - start
                        print(f"  {ended:6.1f} s  all archived", flush=True)
                    rows = await job_rows(url, case)
                    notices = done_notices(world)
                    job_ended = bool(rows) and all(
                        r["state"] in ("succeeded", "failed", "cancelled") for r in rows
                    )
                    waited = ended is not None and time.monotonic() - start - ended
                    # Then give the staff notice (and a possible duplicate) time to arrive.
                    if ended is not None and job_ended and (notices or waited > args.notice_wait):
                        await asyncio.sleep(5)
                        break
                executed = _executed(world) - executed0
                rows = await job_rows(url, case)
                notices = done_notices(world)
                seen = await evidence_mails(url, case)
                verify = subprocess.run(
                    [sys.executable, "-m", "bot", "evidence", "verify", case],
                    cwd=ROOT,
                    env={**os.environ, **world.env},
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
            finally:
                await stop_world(world)
    folder = box.rules[0]["actions"]["moveToFolder"] if box.rules else None
    deleted_folder = box.folder("deleteditems")
    lost = sum(1 for m in from_sender if m.folder_id != folder) + sum(
        1 for m in from_sender if seen[m.internet_message_id] == 0
    )
    duplicated = sum(c - 1 for c in seen.values() if c > 1)
    deleted = (
        sum(1 for r in tenant.requests if r.method == "DELETE")
        + (messages_before - len(box.messages))
        + sum(
            1 for m in box.messages.values() if deleted_folder and m.folder_id == deleted_folder.id
        )
    )
    print(f"job: {[dict(r) for r in rows]}")
    print(
        f"kill -9: {kills}, database connection kills: {db_kills}; lost {lost}, duplicated"
        f" {duplicated}, deleted {deleted}; evidence holds {sum(seen.values()):,} mails"
    )
    print(f"staff told the protection finished: {len(notices)} time(s); their notices:")
    for s in world.connector.sent:
        if s.conversation_id.startswith(STAFF_CONVERSATION) and s.method == "POST":
            first = next(iter(s.cards), {}).get("body", [{}])[0].get("text", "")
            marks = "☑" if DONE in json.dumps(s.cards, ensure_ascii=False) else "☐"
            print(f"  {marks} {first[:70]}")
    print(f"mamoru evidence verify {case}: exit {verify.returncode}")
    print("  " + (verify.stdout + verify.stderr).strip().replace("\n", "\n  "))
    if ended is not None:
        floor, arithmetic = floor_seconds(executed, limits, args.latency)
        print(f"approval -> last archived message: {ended:.1f} s")
        print(f"floor for the {executed:,} requests executed: {arithmetic}")
        print(f"ratio to the throttling floor: {ended:.1f} / {floor:.1f} = {ended / floor:.2f}")
    ok = (
        ended is not None
        and lost == 0
        and duplicated == 0
        and deleted == 0
        and all(r["state"] == "succeeded" for r in rows)
        and len(notices) == 1
        and verify.returncode == 0
    )
    print("all checks hold" if ok else "CHECKS FAILED")
    return 0 if ok else 1


def done_notices(world) -> list[dict]:  # type: ignore[no-untyped-def]
    """Cards in the staff member's chat saying the mail protection finished."""
    return [
        s.activity
        for s in world.connector.sent
        if s.conversation_id.startswith(STAFF_CONVERSATION)
        and s.method == "POST"
        and DONE in json.dumps(s.cards, ensure_ascii=False)
    ]


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mails", type=int, default=3_000)
    p.add_argument("--kills", type=int, default=5, help="kill -9 of the bot during the job")
    p.add_argument("--latency", type=float, default=0.02, help="Graph seconds per request")
    p.add_argument("--rate-429", type=float, default=0.30)
    p.add_argument("--rate-503", type=float, default=0.10)
    p.add_argument("--rate-drop", type=float, default=0.05)
    p.add_argument("--retry-after", type=float, default=0.2)
    p.add_argument("--lease", type=float, default=10.0, help="MAMORU_JOB_LEASE_SECONDS of the bot")
    p.add_argument("--notice-wait", type=float, default=400.0, help="after the job ended")
    p.add_argument("--timeout", type=float, default=1_800.0)
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
