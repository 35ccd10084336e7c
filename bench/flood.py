"""Benchmark (not a test): flood detection while one sender writes 10,000 mails in an hour.

The local Graph service runs with Microsoft's Outlook limits (10,000 requests per 10
minutes per app and mailbox). Time is simulated: the hour passes in steps, the mails of
each step are delivered with their simulated received times, and the flood watch
(``bot.flood.watch``) runs as it would in production:

- ``delta``: no public endpoint, a delta round every poll interval (5 minutes);
- ``notified``: Graph notifies each new mail; notifications within the debounce (2 s)
  make one delta round, as ``FloodWatch.request_sync`` does.

For each: Graph requests made in the hour, floods detected (must be 1), requests per
detected flood, the busiest 10 minutes as a share of the per-mailbox budget, and the
simulated time from the flood's first mail to the card. The watch keeps its state in
SQLite as in production (``bot.store.flood``); what each round writes there is counted
(statements and values bound), to show it follows the new mail, not the state's size.

    .venv/bin/python bench/flood.py             # 10,000 mails
    .venv/bin/python bench/flood.py --mails 2000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from bot.domain.flood import FloodThresholds
from bot.flood.graph_feed import GraphInboxFeed
from bot.flood.watch import FloodWatch, WatchedMailbox
from bot.store.engine import create_engines
from bot.store.flood import SqlFloodState
from bot.store.migrate import upgrade
from bot.store.registry import MemoryRegistry
from graph.auth import ClientCredentialsTokenProvider
from graph.changes import GraphChangesClient
from graph.sandbox import Limits, Tenant, make_sandbox, start_sandbox
from graph.sandbox.seed import mail_bomb
from graph.transport import GraphTransport

MAILBOX = "tanaka@city.example.jp"
SENDER = "kujou.claims@example.net"
APP, SECRET = "bench-app", "bench-secret"
BUDGET, WINDOW = 10_000, dt.timedelta(minutes=10)


class SimClock:
    """Simulated time."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at


class Cards:
    """Counts the cards the watch would send."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.sent: list[dt.datetime] = []

    async def send(self, _reference: dict[str, Any], _card: dict[str, Any]) -> None:
        self.sent.append(self.clock.now())

    async def create_thread(self, **_kwargs: Any) -> None:
        self.sent.append(self.clock.now())


class Writes:
    """INSERT, UPDATE and DELETE statements on an engine, and the values they bind."""

    def __init__(self) -> None:
        self.statements = 0
        self.values = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in {"INSERT", "UPDATE", "DELETE"}:
            self.statements += 1
            self.values += len(params or ())


async def run(mode: str, mails: int, folder: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{folder / f'{mode}.db'}"
    await upgrade(url)
    engines = create_engines(url)
    writes = Writes()
    event.listen(engines.write.sync_engine, "before_cursor_execute", writes)
    tenant = Tenant()
    box = tenant.add_user(MAILBOX, "田中 花子", user_id="owner-1")
    tenant.add_app(APP, SECRET, {"Mail.ReadBasic.All"}, {MAILBOX})
    running = await start_sandbox(make_sandbox(tenant, Limits()))
    start = dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.UTC)
    clock = SimClock(start)
    cards = Cards(clock)
    registry = MemoryRegistry()
    await registry.put("user", "owner-1", {"reference": {"locale": "ja"}})
    tokens = ClientCredentialsTokenProvider(running.token_url, APP, SECRET)
    transport = GraphTransport(running.base_url, tokens)
    watch = FloodWatch(
        feed=GraphInboxFeed(GraphChangesClient(transport)),
        state=SqlFloodState(engines),
        registry=registry,
        sender=cards,
        clock=clock,
        mailboxes=[WatchedMailbox(MAILBOX, owner_id="owner-1")],
        thresholds=FloodThresholds(),
        endpoints=None,
    )
    await watch.sync(MAILBOX)  # the first round, before the flood
    step = dt.timedelta(seconds=2 if mode == "notified" else 300)
    steps = int(dt.timedelta(hours=1) / step)
    per_step, extra = divmod(mails, steps)
    rounds: list[tuple[dt.datetime, int]] = []
    values_per_round: list[int] = []
    statements_before = writes.statements
    began = time.perf_counter()
    until_card: int | None = None
    for n in range(steps):
        clock.at = start + step * (n + 1)
        count = per_step + (1 if n < extra else 0)
        if count:
            mail_bomb(tenant, box, sender=SENDER, count=count, span=step, end=clock.at)
        before, values = watch.requests, writes.values
        await watch.sync(MAILBOX)  # the debounced poke, or the timer
        rounds.append((clock.at, watch.requests - before))
        values_per_round.append(writes.values - values)
        if cards.sent and until_card is None:
            until_card = watch.requests
    elapsed = time.perf_counter() - began
    total = watch.requests
    busiest = max(sum(r for at, r in rounds if t - WINDOW < at <= t) for t, _ in rounds)
    recorded = sum(1 for r in tenant.requests if MAILBOX in r.path)
    round_statements = (writes.statements - statements_before) / steps
    values = writes.values
    clock.at += step
    await watch.sync(MAILBOX)  # a round that brings nothing (not in the figures above)
    quiet_values = writes.values - values
    await engines.dispose()
    await transport.aclose()
    await running.close()
    detected = len(cards.sent)
    first_mail = start + step / max(per_step, 1)
    return {
        "mode": mode,
        "requests": total,
        "recorded": recorded,
        "floods": detected,
        "per_flood": total / detected if detected else float("inf"),
        "until_card": until_card,
        "busiest": busiest,
        "share": busiest / BUDGET,
        "detect_after": (cards.sent[0] - first_mail) if detected else None,
        "elapsed": elapsed,
        "round_statements": round_statements,
        "round_values": sum(values_per_round) / steps,
        "round_values_max": max(values_per_round),
        "values_per_mail": sum(values_per_round) / mails,
        "quiet_values": quiet_values,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=10_000)
    args = parser.parse_args()
    print(f"flood watch: {args.mails:,} mails from one sender in one hour, one mailbox")
    print(f"budget: {BUDGET:,} requests per {WINDOW.seconds // 60} minutes per app and mailbox")
    ok = True
    for mode in ("delta", "notified"):
        with tempfile.TemporaryDirectory() as folder:
            r = asyncio.run(run(mode, args.mails, Path(folder)))
        print(
            f"- {r['mode']:8} Graph requests {r['requests']:>5} (sandbox saw {r['recorded']}), "
            f"floods detected {r['floods']}, requests per detected flood {r['per_flood']:.0f} "
            f"({r['until_card']} until the card), "
            f"busiest 10 min {r['busiest']} = {r['share']:.2%} of the budget, "
            f"card {r['detect_after']} after the first mail "
            f"(simulated hour in {r['elapsed']:.1f} s)"
        )
        print(
            f"  state writes per round: {r['round_statements']:.1f} statements binding "
            f"{r['round_values']:.0f} values (max {r['round_values_max']:,}), "
            f"{r['values_per_mail']:.1f} per new mail; a round without new mail: "
            f"{r['quiet_values']} values"
        )
        ok = ok and r["floods"] == 1 and r["share"] < 0.1
    print("OK" if ok else "FAILED: expected exactly one card and under 10% of the budget")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
