"""Guidance benchmark: Mamoru against a bare Agents SDK echo bot, over HTTP, on 127.0.0.1.

Starts Mamoru (``python -m bot serve``, anonymous) and ``bench/echo_bot.py`` as
child processes, and in this process a stand-in Bot Connector that receives their
replies. Posts staff messages (Japanese and English) as Teams would, from 1 and
then from 50 conversations at once, and prints for each bot:

- latency: from sending the POST until the bot's reply has reached the connector
  (and the POST has been answered), p50 and p99;
- throughput: turns per second of wall time;
- CPU per turn: the bot process's user+system CPU time over the phase / turns
  (from /proc/<pid>/stat);
- peak RSS of the bot process (VmHWM from /proc/<pid>/status);

then Mamoru ÷ echo for CPU per turn and p99, and the p99 the echo floor allows.

Then the triage classifier on its own (``classifier_figures``): CPU time per
message, p50 and p99, over every corpus message (bot/triage/corpus), and the
startup of a fresh process up to its first classified message (wall time and
peak RSS), against the same process without the model. ``--skip-bots`` prints
only these.

Run from the repository root: ``.venv/bin/python bench/guidance.py`` (1–2
minutes; ``--help`` for the counts). Every phase is bounded in turns and time.
Figures and how to read them: ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.connector import user_activity  # noqa: E402

# What staff write to Mamoru. Each staff member keeps one Teams locale; one in
# five conversations is in English.
MESSAGES_JA = (
    "Xで実名を出されて悪口を書かれています",
    "同じ人から毎日300通もメールが届きます",
    "窓口に来た方から「外で待ってる」と言われました",
    "投稿を消してほしければ要求をのめと電話で言われた",
    "個人的に食事に誘われて困っています",
    "SNSで職員の写真がさらされている",
)
MESSAGES_EN = (
    "I get 300 emails a day from the same person",
    "Someone posted my full name on Facebook and is insulting me",
    "A resident keeps asking for my personal phone number",
    "The same complaint arrives again and again although we already answered",
)


def message(conversation: int, turn: int) -> tuple[str, str]:
    """The ``turn``-th message of staff member ``conversation``, with their Teams locale."""
    if conversation % 5 == 4:
        return MESSAGES_EN[(conversation + turn) % len(MESSAGES_EN)], "en-US"
    return MESSAGES_JA[(conversation + turn) % len(MESSAGES_JA)], "ja-JP"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- the stand-in Bot Connector


@dataclass
class ReplyConnector:
    """Receives the bots' replies and wakes whoever waits for the reply to an activity."""

    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    typing: int = 0  # typing indicators received (the SDK sends them when a turn is slow)

    def app(self) -> web.Application:
        """Routes the Agents SDK connector client calls to send a reply."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations/{conv}/activities", self._post)
        app.router.add_post("/v3/conversations/{conv}/activities/{reply_to}", self._post)
        return app

    def expect(self, activity_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future resolved with the first reply to ``activity_id``."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[activity_id] = future
        return future

    async def _post(self, request: web.Request) -> web.Response:
        activity = await request.json()
        reply_to = activity.get("replyToId") or request.match_info.get("reply_to", "")
        if activity.get("type") == "typing":
            self.typing += 1
            return web.json_response({"id": f"typing-{reply_to}"})
        future = self.waiting.pop(reply_to, None)
        if future is not None and not future.done():
            future.set_result(activity)
        return web.json_response({"id": f"reply-{reply_to}"})


# --- the bots under test, as child processes


@dataclass
class BotProcess:
    """A bot running in its own process, with its CPU time and memory read from /proc."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The bot's messaging endpoint."""
        return f"http://127.0.0.1:{self.port}/api/messages"

    def start(self) -> None:
        """Start the process and wait until it accepts connections."""
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at startup:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not start listening:\n{self.log_tail()}")

    def log_tail(self, lines: int = 25) -> str:
        """The last distinct lines of the bot's log (which carries no message text)."""
        recent = self.log_path.read_text(errors="replace").splitlines()[-200:]
        distinct = dict.fromkeys(_TIMESTAMP.sub("", line) for line in recent)
        return "\n".join(list(distinct)[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def peak_rss_mb(self) -> float:
        """The process's peak resident set size (VmHWM)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return math.nan

    def stop(self) -> None:
        """Terminate the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- load


@dataclass
class Phase:
    """The figures of one bot at one concurrency."""

    bot: str
    concurrency: int
    latencies: list[float]
    errors: Counter[str]  # what went wrong → how often
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    client_cpu_s: float  # this process: the load generator and the stand-in connector
    typing: int = 0  # typing indicators the bot sent besides its answers

    @property
    def turns(self) -> int:
        """Turns answered."""
        return len(self.latencies)

    def p(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(sorted(self.latencies), q) * 1000

    @property
    def throughput(self) -> float:
        """Turns per second."""
        return self.turns / self.wall_s if self.wall_s else math.nan

    @property
    def cpu_ms_per_turn(self) -> float:
        """Bot process CPU milliseconds per turn."""
        return self.cpu_s * 1000 / self.turns if self.turns else math.nan


ReplyCheck = Callable[[dict[str, Any]], bool]


def is_card(reply: dict[str, Any]) -> bool:
    """Mamoru answers guidance with one Adaptive Card."""
    attachments = reply.get("attachments") or []
    return any(
        a.get("contentType") == "application/vnd.microsoft.card.adaptive" for a in attachments
    )


def is_text(reply: dict[str, Any]) -> bool:
    """The echo bot answers with text."""
    return bool(reply.get("text"))


async def one_turn(
    http: aiohttp.ClientSession,
    bot: BotProcess,
    connector: ReplyConnector,
    connector_url: str,
    conversation: int,
    text: str,
    locale: str,
    check: ReplyCheck,
) -> float | str:
    """Post one message as staff member ``conversation``; the latency, or what went wrong."""
    activity = user_activity(
        connector_url,
        text=text,
        locale=locale,
        user_id=f"29:bench-{conversation}",
        user_aad=f"aad-bench-{conversation}",
        user_name=f"Bench {conversation}",
        conversation_id=f"a:bench-{conversation}",
    )
    reply = connector.expect(activity["id"])
    start = time.perf_counter()
    try:
        async with http.post(bot.url, json=activity) as response:
            await response.read()
            if response.status not in (200, 202):
                return f"HTTP {response.status}"
        answer = await asyncio.wait_for(reply, timeout=30)
    except TimeoutError:
        return "no reply within 30 s"
    except aiohttp.ClientError as exc:
        return type(exc).__name__
    finally:
        connector.waiting.pop(activity["id"], None)
    elapsed = time.perf_counter() - start
    if check(answer):
        return elapsed
    kinds = [a.get("contentType") for a in answer.get("attachments") or []]
    return f"unexpected reply ({answer.get('type')}, attachments {kinds or 'none'})"


async def run_phase(
    http: aiohttp.ClientSession,
    bot: BotProcess,
    connector: ReplyConnector,
    connector_url: str,
    check: ReplyCheck,
    *,
    concurrency: int,
    turns_per_conversation: int,
    time_limit_s: float,
    first: int = 0,
) -> Phase:
    """``concurrency`` conversations, each sending its messages one after the other.

    Staff members are numbered from ``first``: a phase given numbers no earlier phase
    used is made of first contacts (each conversation's first turn is that staff
    member's first message to the bot), as when a whole office starts using it."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    stop_at = time.monotonic() + time_limit_s

    async def conversation(n: int) -> None:
        for k in range(turns_per_conversation):
            if time.monotonic() > stop_at:
                return
            text, locale = message(n, k)
            outcome = await one_turn(
                http, bot, connector, connector_url, first + n, text, locale, check
            )
            if isinstance(outcome, str):
                errors[outcome] += 1
            else:
                latencies.append(outcome)

    cpu_before, client_before = bot.cpu_seconds(), own_cpu_seconds()
    typing_before = connector.typing
    start = time.perf_counter()
    await asyncio.gather(*(conversation(n) for n in range(concurrency)))
    wall = time.perf_counter() - start
    cpu, client_cpu = bot.cpu_seconds() - cpu_before, own_cpu_seconds() - client_before
    return Phase(
        bot.name,
        concurrency,
        latencies,
        errors,
        wall,
        cpu,
        bot.peak_rss_mb(),
        client_cpu,
        connector.typing - typing_before,
    )


def own_cpu_seconds() -> float:
    """User + system CPU time of this process (client and connector)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- report


def print_report(phases: list[Phase]) -> None:
    """The figures per bot and concurrency, the ratios and the floor."""
    header = (
        f"{'bot':<8}{'conc':>5}{'turns':>7}{'errors':>7}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'turns/s':>9}{'CPU ms/turn':>13}{'peak RSS MB':>13}"
        f"{'client CPU ms/turn':>20}{'typing':>8}"
    )
    print(header)
    print("-" * len(header))
    for ph in phases:
        print(
            f"{ph.bot:<8}{ph.concurrency:>5}{ph.turns:>7}{ph.errors.total():>7}{ph.p(50):>9.1f}"
            f"{ph.p(99):>9.1f}{ph.throughput:>9.0f}{ph.cpu_ms_per_turn:>13.2f}"
            f"{ph.peak_rss_mb:>13.0f}"
            f"{ph.client_cpu_s * 1000 / max(ph.turns, 1):>20.2f}{ph.typing:>8}"
        )
    for ph in phases:
        if ph.errors:
            kinds = ", ".join(f"{kind} ×{n}" for kind, n in ph.errors.most_common())
            print(f"  {ph.bot} at {ph.concurrency} concurrent, failed turns: {kinds}")
    by_key = {(ph.bot, ph.concurrency): ph for ph in phases}
    print()
    for conc in sorted({ph.concurrency for ph in phases}):
        mamoru, echo = by_key.get(("mamoru", conc)), by_key.get(("echo", conc))
        if mamoru is None or echo is None:
            continue
        print(
            f"Mamoru ÷ echo at {conc:>2} concurrent: CPU per turn "
            f"{mamoru.cpu_ms_per_turn / echo.cpu_ms_per_turn:.2f}×, "
            f"p99 {mamoru.p(99) / echo.p(99):.2f}×"
        )
    print()
    for conc in sorted({ph.concurrency for ph in phases if ph.concurrency > 1}):
        for name in ("echo", "mamoru"):
            ph = by_key.get((name, conc))
            if ph is None:
                continue
            # One event loop runs one turn at a time: with `conc` requests queued the
            # last one waits for all the others, so p99 ≈ conc × CPU per turn.
            floor = conc * ph.cpu_ms_per_turn
            print(
                f"{name}: {conc} requests queued behind each other on one event loop "
                f"→ p99 ≳ {conc} × {ph.cpu_ms_per_turn:.2f} ms ≈ {floor:.0f} ms "
                f"(target 50 ms needs ≤ {50 / conc:.1f} ms CPU per turn)"
            )


# --- main


async def bench(args: argparse.Namespace, bots: list[tuple[BotProcess, ReplyCheck]]) -> list[Phase]:
    """Warm up each bot, then measure at 1 and at 50 concurrent conversations."""
    connector = ReplyConnector()
    runner = web.AppRunner(connector.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    connector_url = f"http://127.0.0.1:{port}"
    phases: list[Phase] = []
    limit = aiohttp.TCPConnector(limit=args.concurrency + 10)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(connector=limit, timeout=timeout) as http:
            fresh = iter(range(0, 10**9, 10_000))  # each phase its own, new staff members

            async def phase(bot: BotProcess, check: ReplyCheck, conc: int, turns: int) -> Phase:
                return await run_phase(
                    http,
                    bot,
                    connector,
                    connector_url,
                    check,
                    concurrency=conc,
                    turns_per_conversation=turns,
                    time_limit_s=args.time_limit,
                    first=next(fresh),
                )

            for bot, check in bots:
                warm = await phase(bot, check, 1, args.warmup)
                if warm.errors or not warm.turns:
                    raise SystemExit(f"{bot.name} does not answer: {dict(warm.errors)}")
                # Warm up at the measured concurrency too (connection pools, the
                # database's first writes), unmeasured.
                warm = await phase(bot, check, args.concurrency, max(1, args.warmup // 10))
                if warm.errors:
                    raise SystemExit(f"{bot.name} fails under load: {dict(warm.errors)}")
            # Rounds alternate the bots (and their order), so a burst of load from
            # elsewhere on the machine lands on both rather than on one.
            plan = [(1, args.turns), (args.concurrency, args.turns_per_conversation)]
            for round_no in range(args.rounds):
                order = bots if round_no % 2 == 0 else bots[::-1]
                for conc, turns in plan:
                    for bot, check in order:
                        phases.append(await phase(bot, check, conc, turns))
    finally:
        await runner.cleanup()
    return merge(phases)


def merge(phases: list[Phase]) -> list[Phase]:
    """One phase per (bot, concurrency): the rounds' turns pooled, in first-seen order."""
    merged: dict[tuple[str, int], Phase] = {}
    for ph in phases:
        key = (ph.bot, ph.concurrency)
        if key not in merged:
            merged[key] = Phase(ph.bot, ph.concurrency, [], Counter(), 0.0, 0.0, 0.0, 0.0)
        m = merged[key]
        m.latencies.extend(ph.latencies)
        m.errors.update(ph.errors)
        m.wall_s += ph.wall_s
        m.cpu_s += ph.cpu_s
        m.client_cpu_s += ph.client_cpu_s
        m.typing += ph.typing
        m.peak_rss_mb = max(m.peak_rss_mb, ph.peak_rss_mb)
    return sorted(merged.values(), key=lambda ph: (ph.concurrency, ph.bot != "mamoru"))


def main() -> int:
    """Start both bots, run the benchmark, stop them."""
    parser = argparse.ArgumentParser(description="Mamoru guidance benchmark (local only).")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the bots")
    parser.add_argument("--turns", type=int, default=200, help="turns at 1 concurrent, per round")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent conversations")
    parser.add_argument(
        "--turns-per-conversation", type=int, default=20, help="turns per conversation when busy"
    )
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured turns per bot")
    parser.add_argument("--time-limit", type=float, default=60, help="seconds per phase, at most")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run both bots under cProfile and write DIR/mamoru.prof, DIR/echo.prof "
        "(slows them down: use the profiles for where time goes, not for the figures)",
    )
    parser.add_argument(
        "--skip-bots", action="store_true", help="only the classifier figures (seconds)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 round, 100 turns at 1 concurrent, 50 x 10 at 50 (≈ 30 s on a quiet machine)",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.turns, args.turns_per_conversation = 1, 100, 10
    classifier_figures()
    if args.skip_bots:
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        python_for = {
            name: [sys.executable, "-m", "cProfile", "-o", str(args.profile / f"{name}.prof")]
            for name in ("mamoru", "echo")
        }
    else:
        python_for = {"mamoru": [sys.executable], "echo": [sys.executable]}

    with tempfile.TemporaryDirectory(prefix="mamoru-bench-") as tmp:
        env = {
            **os.environ,
            "MAMORU_ALLOW_ANONYMOUS": "true",
            "MAMORU_HOST": "127.0.0.1",
            "MAMORU_DATA_DIR": tmp,
            "PYTHONPATH": str(ROOT),
            # Mamoru's local Graph service on a free port, not 5280: another run may hold it.
            "MAMORU_GRAPH_SANDBOX_URL": f"http://127.0.0.1:{free_port()}",
        }
        for name in ("MAMORU_CLIENT_ID", "MAMORU_TENANT_ID", "MAMORU_CLIENT_SECRET"):
            env[name] = ""  # no bot identity, whatever a local .env says
        mamoru_port, echo_port = free_port(), free_port()
        mamoru = BotProcess(
            "mamoru",
            [*python_for["mamoru"], "-m", "bot", "serve", "--port", str(mamoru_port)],
            env,
            mamoru_port,
            Path(tmp) / "mamoru.log",
        )
        echo = BotProcess(
            "echo",
            [*python_for["echo"], str(ROOT / "bench" / "echo_bot.py"), "--port", str(echo_port)],
            env,
            echo_port,
            Path(tmp) / "echo.log",
        )
        started: list[BotProcess] = []
        phases: list[Phase] = []
        try:
            for bot in (mamoru, echo):
                bot.start()
                started.append(bot)
            playbooks = env.get("MAMORU_PLAYBOOKS_DIR") or "shipped (bot/playbooks)"
            print(
                f"playbooks: {playbooks}; CPUs: {os.cpu_count()}; Python {sys.version.split()[0]}"
            )
            print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
            phases = asyncio.run(bench(args, [(mamoru, is_card), (echo, is_text)]))
            print_report(phases)
            print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        finally:
            for bot in started:
                bot.stop()
            for bot in started:
                failed = not phases or any(ph.errors for ph in phases if ph.bot == bot.name)
                if failed:
                    print(f"\n--- {bot.name}'s log, last distinct lines\n{bot.log_tail()}")
    return 0


# --- the triage classifier on its own

_STARTUP = """
import resource, sys, time
start = time.perf_counter()
from bot.app import build_guide  # the whole bot's imports, in both variants
from bot.config import Settings
from bot.domain.locale import Locale
from bot.playbooks import load_library
if sys.argv[1] == "model":
    guide = build_guide(Settings(_env_file=None))  # loads the model and the dictionary
    guide.answer("窓口で土下座しろと言われた", Locale.JA)
else:
    load_library()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"{usage.ru_utime + usage.ru_stime:.3f} {usage.ru_maxrss} {time.perf_counter() - start:.3f}")
"""


def classifier_figures() -> None:
    """Print the classifier's CPU per message (p50/p99) and the startup with the model."""
    from bot.triage.model import LinearClassifier
    from bot.triage.train import load_corpus

    texts = [e.text for e in load_corpus()]
    classifier = LinearClassifier.load()
    for text in texts[:50]:  # warm: dictionary loaded, caches filled
        classifier.predict(text)
    samples = []
    for text in texts:
        start = time.thread_time_ns()
        classifier.predict(text)
        samples.append((time.thread_time_ns() - start) / 1e6)
    samples.sort()
    long_text = "窓口で怒鳴られました。" * 1000  # 10,000 characters (read up to the limit)
    start = time.thread_time_ns()
    classifier.predict(long_text)
    long_ms = (time.thread_time_ns() - start) / 1e6
    print(
        f"classifier {classifier.model_id} ({classifier.size:,} features): CPU per message "
        f"p50 {percentile(samples, 50):.3f} ms, p99 {percentile(samples, 99):.3f} ms, "
        f"max {samples[-1]:.3f} ms over {len(samples):,} corpus messages; "
        f"a 10,000-character message {long_ms:.2f} ms"
    )
    figures = {}
    for variant in ("model", "no-model"):
        runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", _STARTUP, variant],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            runs.append((float(out[0]), int(out[1]), float(out[2])))
        figures[variant] = min(runs)
    (model_s, model_kb, model_wall), (bare_s, bare_kb, _) = figures["model"], figures["no-model"]
    print(
        f"process startup to the first classified message: {model_s:.2f} s CPU "
        f"({model_wall:.2f} s wall), peak RSS {model_kb / 1024:.0f} MB; without the "
        f"classifier {bare_s:.2f} s CPU, {bare_kb / 1024:.0f} MB: the model and the "
        f"dictionary add {model_s - bare_s:.2f} s of CPU and {(model_kb - bare_kb) / 1024:.0f} "
        "MB (best of 3; CPU, because wall time here depends on the machine's load)"
    )
    print()


if __name__ == "__main__":
    raise SystemExit(main())
