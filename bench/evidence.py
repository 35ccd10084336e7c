"""Evidence benchmark: append, verify and export 100,000 items on SQLite and PostgreSQL.

For each backend: appends emails (each with its own .eml in the blob store, as
``mamoru mail protect`` does) to one case: 2,000 with one transaction per mail
(``record_email``), then the rest 500 per transaction (``record_emails``); exports
and verifies at 10,000 and at 100,000 items. Verify and export run as child processes
(``python -m bot evidence ...``) so each one's peak RSS is its own (``wait4``):
the export streams if that peak stays flat from 10k to 100k items.

Run from the repository root: ``.venv/bin/python bench/evidence.py`` (several
minutes; ``--items 20000 --backends sqlite`` for a quick run). PostgreSQL is
127.0.0.1:5432 (trust auth); a temporary database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.incidents import Counterparts, IncidentDraft, IncidentType, Person  # noqa: E402
from bot.domain.ports import EmailEvidence  # noqa: E402
from bot.evidence.blobs import LocalBlobStore  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.sql import SqlStore  # noqa: E402

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
SINGLE = 2_000  # mails appended one per transaction before the batched phases
BATCH = 500  # mails per `record_emails` call (a Graph page is up to 1,000)


@dataclass
class Phase:
    """One measured step."""

    name: str
    items: int
    seconds: float
    peak_mb: float | None = None

    def line(self) -> str:
        """A printable row."""
        rate = f"{self.items / self.seconds:>10,.0f} items/s" if self.seconds else ""
        peak = f"peak RSS {self.peak_mb:7.1f} MB" if self.peak_mb is not None else ""
        return f"  {self.name:<24} {self.items:>8,} items {self.seconds:8.2f} s {rate}  {peak}"


def mail(n: int) -> tuple[EmailEvidence, bytes]:
    """The n-th synthetic harassment email (about 600 bytes of MIME)."""
    received = START + dt.timedelta(seconds=n * 26)  # ~100k mails over a month
    eml = (
        f"Message-ID: <{n}.bench@example.jp>\r\nFrom: troll@example.jp\r\n"
        f"Subject: =?UTF-8?B?5Lu25ZCN?= {n}\r\nDate: {received:%a, %d %b %Y %H:%M:%S +0000}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "本文です。" * 30 + f"{n}\r\n"
    ).encode()
    item = EmailEvidence(
        immutable_id=f"AAMkBench{n:08d}",
        internet_message_id=f"<{n}.bench@example.jp>",
        received_at=received,
        sender="troll@example.jp",
        subject=f"件名 {n}",
        mime_sha256=hashlib.sha256(eml).hexdigest(),
        mailbox="staff@city.example.jp",
    )
    return item, eml


def child(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run ``python -m bot ARGS``; returns (seconds, peak RSS in MB) of that process alone."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        problem = (err + out).decode()
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {problem}")
    return seconds, usage.ru_maxrss / 1024


async def append(store: SqlStore, case_id: str, start: int, stop: int, batch: int) -> float:
    """Append emails ``start..stop-1``, ``batch`` per transaction; returns seconds."""
    began = time.perf_counter()
    for first in range(start, stop, batch):
        if batch == 1:
            await store.record_email(case_id, *mail(first))
        else:
            await store.record_emails(
                case_id, [mail(n) for n in range(first, min(first + batch, stop))]
            )
    return time.perf_counter() - began


async def run_backend(name: str, url: str, work: Path, items: int, env: dict[str, str]) -> None:
    """All phases on one backend."""
    await upgrade(url)
    store = SqlStore.from_url(url, blobs=LocalBlobStore(work / "blobs"))
    phases: list[Phase] = []
    try:
        incident = await store.create_incident(
            IncidentDraft(
                IncidentType.MASS_EMAIL,
                Person("oid-bench", "ベンチ 太郎"),
                "市民課",
                "毎日大量のメールが届く",
                counterparts=Counterparts(emails=("troll@example.jp",)),
            ),
            idempotency_key=f"bench-{uuid.uuid4()}",
        )
        # One mail per transaction, as `record_email` does (bounded by commit fsyncs).
        single = min(SINGLE, items // 10)
        seconds = await append(store, incident.id, 0, single, 1)
        phases.append(Phase("append 1 per commit", single, seconds))
        done = 1 + single  # + the reporter's statement
        for target in sorted({min(10_000, items), items}):
            seconds = await append(store, incident.id, done - 1, target - 1, BATCH)
            phases.append(Phase(f"append to {target:,} ({BATCH}/tx)", target - done, seconds))
            done = target
            out = work / f"{incident.id}-{target}.zip"
            seconds, peak = child(["evidence", "export", incident.id, "--out", str(out)], env, work)
            phases.append(Phase(f"export {target:,}", target, seconds, peak))
            seconds, peak = child(["evidence", "verify", incident.id], env, work)
            phases.append(Phase(f"verify {target:,} (store)", target, seconds, peak))
            seconds, peak = child(["evidence", "verify", "--bundle", str(out)], env, work)
            phases.append(Phase(f"verify {target:,} (bundle)", target, seconds, peak))
            print(f"    ({name}: {target:,} done, bundle {out.stat().st_size / 2**20:.1f} MB)")
    finally:
        await store.close()
    print(f"{name}:")
    for phase in phases:
        print(phase.line())
    # Flat memory is the claim: the peak at the largest size over the peak at 10,000.
    for kind in ("export", "(store)", "(bundle)"):
        peaks = [p for p in phases if p.peak_mb is not None and kind in p.name]
        if len(peaks) == 2 and peaks[0].peak_mb and peaks[1].peak_mb:
            ratio = peaks[1].peak_mb / peaks[0].peak_mb
            growth = peaks[1].peak_mb - peaks[0].peak_mb
            print(
                f"  peak RSS {kind:<9} {peaks[1].items:,} / {peaks[0].items:,} items: "
                f"x{ratio:.2f} ({growth:+.1f} MB)"
            )


async def pg_database(create: bool, name: str) -> str:
    """Create or drop the temporary PostgreSQL database; returns its URL."""
    for user in ("postgres", "root"):
        try:
            conn = await asyncpg.connect(host="127.0.0.1", port=5432, user=user, database="test")
        except (OSError, asyncpg.PostgresError):
            continue
        try:
            if create:
                await conn.execute(f'CREATE DATABASE "{name}"')
            else:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}"
    raise SystemExit("PostgreSQL at 127.0.0.1:5432 is unreachable")


def main() -> None:
    """Parse arguments and run every backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"mamoru-bench-{backend}-") as tmp:
            work = Path(tmp)
            env = {"MAMORU_DATA_DIR": str(work)}
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{work / 'mamoru.db'}"
                asyncio.run(run_backend("SQLite", url, work, args.items, env))
            else:
                name = f"mamoru_bench_{uuid.uuid4().hex[:8]}"
                url = asyncio.run(pg_database(True, name))
                try:
                    env["DATABASE_URL"] = url
                    asyncio.run(run_backend("PostgreSQL", url, work, args.items, env))
                finally:
                    asyncio.run(pg_database(False, name))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"benchmark process (appends) peak RSS: {peak:.1f} MB")


if __name__ == "__main__":
    main()
