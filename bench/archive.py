"""Benchmark (not a test): archive N messages from one sender against the local Graph sandbox.

The sandbox runs with Microsoft's Outlook limits (10,000 requests per 10 minutes
and 4 concurrent requests per app and mailbox) and a fixed service latency per
request. Three runs share one process, concurrently by default so the whole
benchmark takes about as long as the slowest run:

- ``clean``:  the real protection use case (4 workers), no faults;
- ``faults``: the same with injected 429 (with Retry-After), 503 and dropped connections
  (by default issue 12's mix: 30 %, 10 %, 5 %). The same mix through the bot's job
  runner on PostgreSQL, with a database connection kill and ``kill -9`` of the bot, is
  bench/chaos.py;
- ``naive``:  the same use case with one worker, i.e. one request at a time, on a
  smaller N, extrapolated linearly to N (the budget never binds at that pace).

For each: elapsed time, the floor the limits impose on the requests made (with
the arithmetic), the ratio, and lost / duplicated / deleted counts.

    .venv/bin/python bench/archive.py                  # N=10,000, 100 ms, Microsoft's limits
    .venv/bin/python bench/archive.py --quick          # a 1-minute smoke run, scaled limits
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.mailbox import parse_sender
from bot.mail.graph_mailbox import GraphMailbox
from bot.mail.jsonl_log import JsonlEmailEvidenceLog
from bot.mail.protect import ProtectionRequest, protect_mailbox
from graph.auth import ClientCredentialsTokenProvider
from graph.mailbox import GraphMailboxClient
from graph.models import FORBIDDEN_RULE_ACTIONS
from graph.sandbox import Limits, Tenant, make_sandbox, start_sandbox
from graph.sandbox.seed import mail_bomb
from graph.transport import GraphTransport, RetryPolicy, SentRequest

MAILBOX = "tanaka@city.example.jp"
SENDER = "kujou.claims@example.net"
CASE = "KH-BENCH-0001"


@dataclass
class Outcome:
    """What one run measured."""

    name: str
    n: int
    elapsed: float
    executed: int  # requests the service executed (429s and injected faults excluded)
    sent: int  # HTTP requests the client sent (retries included)
    throttled: int
    peak: int
    lost: int
    duplicated: int
    deleted: int
    forbidden_rules: int


def floor_seconds(requests: int, limits: Limits, latency: float) -> tuple[float, str]:
    """The least time ``requests`` can take under the limits, and how it was computed."""
    c, b, w = limits.concurrency, limits.requests_per_window, limits.window_seconds
    by_concurrency = math.ceil(requests / c) * latency
    if requests <= b:
        return by_concurrency, (
            f"ceil({requests} / {c}) x {latency:g} s = {by_concurrency:.1f} s "
            f"(budget {b} not reached)"
        )
    # Sliding window: request b+k cannot start before request k's start + w.
    windows, rest = divmod(requests - 1, b)
    by_budget = windows * w + math.ceil((rest + 1) / c) * latency
    value = max(by_budget, by_concurrency)
    return value, (
        f"max(budget: {requests} requests > {b}/{w:g} s -> {windows} x {w:g} s "
        f"+ ceil({rest + 1} / {c}) x {latency:g} s = {by_budget:.1f} s; "
        f"concurrency: ceil({requests} / {c}) x {latency:g} s = {by_concurrency:.1f} s) "
        f"= {value:.1f} s"
    )


def extrapolate(o: Outcome, limits: Limits, latency: float, full_n: int) -> tuple[float, str]:
    """A small one-worker run scaled to full_n: linear, but never below its own floor."""
    linear = o.elapsed / o.n * full_n
    scaled = round(o.executed / o.n * full_n)
    one_at_a_time = Limits(
        requests_per_window=limits.requests_per_window,
        window_seconds=limits.window_seconds,
        concurrency=1,
    )
    floor, _ = floor_seconds(scaled, one_at_a_time, latency)
    value = max(linear, floor)
    return value, (
        f"max(linear {o.elapsed / o.n:.4f} s x {full_n} = {linear:.0f} s, "
        f"one-at-a-time floor for {scaled} requests {floor:.0f} s) = {value:.0f} s"
    )


async def run(
    name: str, n: int, limits: Limits, latency: float, faults: dict[str, Any], workers: int
) -> Outcome:
    """Seed a mailbox with n messages from one sender, protect it, check the result."""
    tenant = Tenant()
    box = tenant.add_user(MAILBOX, "田中 花子")
    tenant.add_app("bench", "bench-secret", {"Mail.ReadWrite", "MailboxSettings.ReadWrite"})
    mail_bomb(tenant, box, sender=SENDER, count=n, span=dt.timedelta(days=7))
    for i in range(20):  # ordinary mail stays where it is
        tenant.deliver(box, from_address=f"citizen{i}@example.org", subject="相談", body="b")
    sandbox = make_sandbox(tenant, limits)
    sandbox.faults.latency = latency
    sandbox.faults.update(faults)
    running = await start_sandbox(sandbox)
    sent: list[SentRequest] = []
    transport = GraphTransport(
        running.base_url,
        ClientCredentialsTokenProvider(running.token_url, "bench", "bench-secret"),
        retry=RetryPolicy(max_total_seconds=limits.window_seconds + 120),  # as the bot
        on_request=sent.append,
    )
    mailbox = GraphMailbox(GraphMailboxClient(transport))
    with tempfile.TemporaryDirectory() as tmp:
        log = JsonlEmailEvidenceLog(Path(tmp))
        request = ProtectionRequest(MAILBOX, parse_sender(address=SENDER), CASE)
        start = time.monotonic()
        result = await protect_mailbox(mailbox, log, request, concurrency=workers)
        elapsed = time.monotonic() - start
        ids = Counter(e["immutable_id"] for e in log.entries(CASE))
    await transport.aclose()
    await running.close()
    from_sender = {m.immutable_id for m in box.messages.values() if m.from_address == SENDER}
    archived = {m.immutable_id for m in box.messages.values() if m.folder_id == result.folder_id}
    stats = sandbox.throttle.stats()
    deleted_folder = box.folder("deleteditems")
    deletes = sum(1 for r in sent if r.method == "DELETE") + sum(
        1 for r in tenant.requests if r.method == "DELETE"
    )
    return Outcome(
        name=name,
        n=n,
        elapsed=elapsed,
        executed=sum(s["executed"] for s in stats),
        sent=len(sent),
        throttled=sum(s["throttled"] for s in stats),
        peak=max(s["peakConcurrent"] for s in stats),
        lost=len(from_sender - archived) + len(from_sender - set(ids)),
        duplicated=sum(c - 1 for c in ids.values()),
        deleted=deletes
        + sum(
            1 for m in box.messages.values() if deleted_folder and m.folder_id == deleted_folder.id
        ),
        forbidden_rules=sum(
            1
            for r in tenant.requests
            if isinstance(r.body, dict)
            and FORBIDDEN_RULE_ACTIONS & set(r.body.get("actions") or {})
        ),
    )


def report(o: Outcome, limits: Limits, latency: float, full_n: int) -> float:
    """Print one run; returns its ratio to the floor."""
    floor, arithmetic = floor_seconds(o.executed, limits, latency)
    ratio = o.elapsed / floor if floor else float("nan")
    print(f"\n[{o.name}] {o.n} messages in {o.elapsed:.1f} s ({o.n / o.elapsed:.1f} msg/s)")
    print(
        f"  requests: {o.executed} executed ({o.executed / o.n:.3f} per message), "
        f"{o.sent} sent incl. retries, {o.throttled} answered 429 by the limiter, "
        f"peak {o.peak} concurrent"
    )
    print(f"  floor: {arithmetic}")
    print(f"  ratio to floor: {ratio:.3f}")
    print(
        f"  lost {o.lost}, duplicated {o.duplicated}, deleted {o.deleted}, "
        f"rules with forbidden actions {o.forbidden_rules}"
    )
    if o.n != full_n:
        _, how = extrapolate(o, limits, latency, full_n)
        print(f"  extrapolated to {full_n}: {how}")
    return ratio


async def main_async(args: argparse.Namespace) -> int:
    """Run the scenarios and print the figures."""
    limits = Limits(requests_per_window=args.budget, window_seconds=args.window)
    faults = {
        "rate429": args.rate_429,
        "rate503": args.rate_503,
        "rateDrop": args.rate_drop,
        "retryAfter": args.retry_after,
        "seed": 7,
    }
    print(
        f"limits: {args.budget} requests / {args.window:g} s and {limits.concurrency} concurrent "
        f"per app+mailbox; service latency {args.latency * 1000:.0f} ms per request"
    )
    print(
        f"faults run: 429 {args.rate_429:.1%}, 503 {args.rate_503:.1%}, dropped "
        f"{args.rate_drop:.1%} of requests, Retry-After {args.retry_after:g} s"
    )
    jobs = [
        ("clean", args.n, {}, 4),
        ("faults", args.n, faults, 4),
        ("naive", args.naive_n, {}, 1),
    ]
    how = "one after another" if args.sequential else "concurrently (separate sandboxes)"
    print(f"running {len(jobs)} scenarios {how}...")
    if args.sequential:
        outcomes = [await run(name, n, limits, args.latency, f, w) for name, n, f, w in jobs]
    else:
        outcomes = await asyncio.gather(
            *(run(name, n, limits, args.latency, f, w) for name, n, f, w in jobs)
        )
    ratios = {o.name: report(o, limits, args.latency, args.n) for o in outcomes}
    bad = sum(o.lost + o.duplicated + o.deleted + o.forbidden_rules for o in outcomes)
    clean = next(o for o in outcomes if o.name == "clean")
    naive = next(o for o in outcomes if o.name == "naive")
    naive_full, _ = extrapolate(naive, limits, args.latency, args.n)
    print(f"\nspeed-up over the naive loop (extrapolated): {naive_full / clean.elapsed:.1f}x")
    ok = bad == 0 and ratios["clean"] <= 1.2
    print(
        f"target (clean within 1.2x of the floor; 0 lost/duplicated/deleted in every run): "
        f"{'met' if ok else 'NOT met'}; with faults {ratios['faults']:.2f}x the floor"
    )
    return 0 if ok else 1


def main() -> int:
    """Parse arguments and run."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--naive-n", type=int, default=500)
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--window", type=float, default=600.0)
    # Issue 12's fault mix: 30 % 429 (with Retry-After), 10 % 503, 5 % dropped connections.
    p.add_argument("--rate-429", type=float, default=0.30)
    p.add_argument("--rate-503", type=float, default=0.10)
    p.add_argument("--rate-drop", type=float, default=0.05)
    p.add_argument("--retry-after", type=float, default=0.5)
    p.add_argument("--sequential", action="store_true", help="run the scenarios one by one")
    p.add_argument("--quick", action="store_true", help="N=1,000, budget 1,000 / 30 s, 20 ms")
    args = p.parse_args()
    if args.quick:
        args.n, args.naive_n, args.budget, args.window, args.latency = 1000, 100, 1000, 30.0, 0.02
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
