"""``mamoru mail protect`` and ``mamoru sandbox`` (the local Graph service and its mail injection).

Exit codes: 0 done; 1 the mail service failed (re-run resumes); 2 bad input or settings.
Progress goes to stderr, the summary to stdout; neither shows subjects or bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import urllib.request
from typing import Any

from bot.commands.files import describe_os_error
from bot.config import GraphMode, Settings
from bot.domain.errors import IncidentNotFound
from bot.domain.mailbox import (
    InvalidMailTarget,
    MailboxError,
    MailboxUnavailable,
    parse_sender,
    validate_case_id,
    validate_mailbox,
)

OK, FAILED, BAD_INPUT = 0, 1, 2
DEFAULT_SANDBOX_PORT = 5280


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``mail`` and ``sandbox`` to the ``mamoru`` command."""
    mail = subparsers.add_parser("mail", help="protect a mailbox from an abusive sender")
    actions = mail.add_subparsers(dest="mail_action", metavar="ACTION", required=True)
    protect = actions.add_parser(
        "protect",
        help="evidence folder + inbox rule, and archive the sender's existing mail",
    )
    protect.add_argument(
        "--mailbox", required=True, metavar="UPN", help="e.g. tanaka@city.example.jp"
    )
    who = protect.add_mutually_exclusive_group(required=True)
    who.add_argument("--sender", metavar="ADDRESS", help="one sender address (exact match)")
    who.add_argument(
        "--domain",
        metavar="DOMAIN",
        help="every sender of exactly this domain (example.co: not example.com, example.co.jp "
        "or sub.example.co); such mail is moved but left unread",
    )
    protect.add_argument(
        "--shared-domain",
        action="store_true",
        help="confirm a --domain anyone can get an address at (gmail.com, docomo.ne.jp...): "
        "every sender there is caught, not only the abusive one",
    )
    protect.add_argument("--case", metavar="ID", help="case id naming the evidence folder")
    protect.set_defaults(handler=run_protect)

    sandbox = subparsers.add_parser("sandbox", help="run the local Graph service (no Azure needed)")
    sandbox.add_argument("--port", type=int, default=DEFAULT_SANDBOX_PORT)
    sandbox.add_argument("--seed", choices=["demo"], help="fill it with the demo city office")
    sandbox.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    sandbox.set_defaults(handler=run_sandbox)
    tools = sandbox.add_subparsers(dest="sandbox_action", metavar="ACTION")
    deliver = tools.add_parser("deliver", help="inject mail into a running sandbox (mail bomb)")
    deliver.add_argument("--mailbox", required=True, metavar="UPN")
    deliver.add_argument("--from", dest="sender", required=True, metavar="ADDRESS")
    deliver.add_argument("--count", type=int, default=1, help="how many messages")
    deliver.add_argument("--span", default="1h", help="spread over e.g. 90s, 30m, 6h, 3d")
    deliver.add_argument("--subject", default="テスト", help="subject (single message)")
    deliver.set_defaults(handler=run_deliver)
    faults = tools.add_parser("faults", help="inject faults into a running sandbox")
    faults.add_argument("--latency", type=float, help="seconds per request")
    faults.add_argument("--rate-429", type=float, dest="rate429", help="share answered 429")
    faults.add_argument("--rate-503", type=float, dest="rate503", help="share answered 503")
    faults.add_argument("--rate-drop", type=float, dest="rateDrop", help="share dropped")
    faults.add_argument("--retry-after", type=float, dest="retryAfter", help="seconds")
    faults.add_argument("--fail-5xx", type=float, dest="fail5xxSeconds", metavar="SECONDS")
    faults.set_defaults(handler=run_faults)


def _error(message: str, hint: str = "") -> None:
    print(f"mamoru mail protect: {message}", file=sys.stderr)
    if hint:
        print(f"  what to do: {hint}", file=sys.stderr)


def _settings() -> Settings | None:
    from bot.commands.guidance import load_settings

    return load_settings()


class _Progress:
    """Progress on stderr: one updating line on a terminal, every 10% otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = -1
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        step = max(1, total // 10)
        if self.tty:
            print(f"\rarchived {done}/{total}", end="", file=sys.stderr, flush=True)
        elif done == total or done // step != self.last:
            self.last = done // step
            print(f"archived {done}/{total}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.tty:
            print(file=sys.stderr)


_INCIDENT_ID = re.compile(r"^KH-\d{4}-\d{4,}$")


async def close_case_store(persistence: Any, case_id: str) -> None:
    """Anchor the case's head outside the database (what the run recorded), then close."""
    from bot.domain.ports import SystemClock
    from bot.evidence.anchors import Anchoring

    try:
        if persistence.evidence is not None:
            anchors = Anchoring(persistence.store, persistence.evidence.anchors, SystemClock())
            await anchors.anchor_case(case_id)
    finally:
        await persistence.store.close()
        if persistence.evidence is not None:
            await persistence.evidence.aclose()


async def open_case_store(settings: Settings, case_id: str) -> Any:
    """The bot's database (migrated), checked to hold ``case_id``; IncidentNotFound if not."""
    from bot.app import build_persistence
    from bot.domain.ports import SystemClock
    from bot.store import migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app_url = settings.effective_database_url if settings.migration_database_url else None
    await migrate.upgrade(settings.effective_migration_url, app_url=app_url)
    persistence = build_persistence(settings, SystemClock())
    try:
        await persistence.store.load_incident(case_id)
    except Exception:
        await persistence.store.close()
        if persistence.evidence is not None:
            await persistence.evidence.aclose()
        raise
    return persistence


def _refuse_shared_domain(domain: str | None, settings: Settings, *, confirmed: bool) -> None:
    """A rule for gmail.com would catch every resident writing from there: only if confirmed."""
    from bot.domain.linking import free_mail_domains

    if domain is None or confirmed or domain not in free_mail_domains(settings.free_mail_domains):
        return
    raise InvalidMailTarget(
        f"{domain} is a free-mail domain shared by many unrelated people: a rule for it would "
        "move every one of their mails out of the inbox. Protect the abusive address with "
        "--sender, or add --shared-domain if every sender there is really meant"
    )


def run_protect(args: argparse.Namespace) -> int:
    """Protect one mailbox; prints a summary, or what to do."""
    from bot.mail.graph_mailbox import graph_mailbox_from_settings
    from bot.mail.jsonl_log import JsonlEmailEvidenceLog
    from bot.mail.protect import (
        ProtectionRequest,
        default_case_id,
        protect_mailbox,
        rule_scope,
    )

    settings = _settings()
    if settings is None:
        return BAD_INPUT
    try:
        upn = validate_mailbox(args.mailbox)
        sender = parse_sender(address=args.sender, domain=args.domain)
        _refuse_shared_domain(sender.domain, settings, confirmed=args.shared_domain)
        case_id = validate_case_id(args.case) if args.case else default_case_id(upn, sender)
        mailbox = graph_mailbox_from_settings(settings)
    except InvalidMailTarget as exc:
        _error(exc.detail, exc.hint)
        return BAD_INPUT
    # A case reported in Teams (KH-YYYY-NNNN) records into its evidence chain in the
    # database; without one, the records go to a JSON Lines log under the data directory.
    incident_case = bool(args.case) and _INCIDENT_ID.match(case_id) is not None
    evidence: Any = None if incident_case else JsonlEmailEvidenceLog(settings.data_dir)
    progress = _Progress()

    async def go() -> Any:
        nonlocal evidence
        persistence = None
        try:
            if incident_case:
                persistence = await open_case_store(settings, case_id)
                evidence = persistence.store
            return await protect_mailbox(
                mailbox,
                evidence,
                ProtectionRequest(upn, sender, case_id),
                progress=progress,
                concurrency=settings.graph_mailbox_concurrency,
                evidence_root=settings.graph_evidence_folder,
            )
        finally:
            await mailbox.client.transport.aclose()
            if persistence is not None:
                await close_case_store(persistence, case_id)

    try:
        result = asyncio.run(go())
    except KeyboardInterrupt:
        progress.finish()
        _error("interrupted", "run the same command again: it resumes where it stopped")
        return 130
    except InvalidMailTarget as exc:
        progress.finish()
        _error(exc.detail, exc.hint)
        return BAD_INPUT
    except IncidentNotFound:
        progress.finish()
        _error(
            f"no case {case_id} in the database",
            "check the id in Teams (「自分の案件」), or leave out --case to keep a log file",
        )
        return BAD_INPUT
    except OSError as exc:
        # Disk full, a read-only or forbidden evidence directory: say what was kept.
        progress.finish()
        _error(
            f"could not write the evidence: {describe_os_error(exc)}",
            f"the mails archived so far ({progress.done} of {progress.total}) stay in the "
            "evidence folder and their .eml files and records are kept; nothing was deleted. "
            "Free space or fix the permission, then run the same command again: it resumes.",
        )
        return FAILED
    except MailboxError as exc:
        progress.finish()
        ref = f" (request id {exc.request_id})" if exc.request_id else ""
        _error(f"{type(exc).__name__}: {exc.detail}{ref}", exc.hint)
        if not isinstance(exc, MailboxUnavailable):
            print("  nothing archived so far is lost; a re-run resumes.", file=sys.stderr)
        return FAILED if isinstance(exc, MailboxUnavailable) else BAD_INPUT
    progress.finish()
    print(
        json.dumps(
            {
                "case": result.case_id,
                "folder": f"Inbox/{settings.graph_evidence_folder}/{result.case_id}",
                "found": result.found,
                "moved": result.moved,
                "recorded": result.recorded,
                "already_done": result.already_done,
                "vanished": len(result.vanished),
                "other_senders_left_alone": result.other_senders,
                "rule": rule_scope(sender),
                "complete": result.complete,
                "evidence_log": (
                    "database (mamoru evidence verify " + result.case_id + ")"
                    if incident_case
                    else str(evidence.case_dir(result.case_id) / "log.jsonl")
                ),
                "graph": "sandbox" if settings.graph_mode == GraphMode.SANDBOX else "microsoft",
            },
            ensure_ascii=False,
        )
    )
    return OK if result.complete else FAILED


def run_sandbox(args: argparse.Namespace) -> int:
    """Serve the local Graph service until interrupted."""
    from aiohttp import web

    from graph.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Tenant, make_sandbox, seed_demo
    from graph.sandbox.server import build_web_app

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # shows up at once
    tenant = Tenant()
    if args.seed == "demo":
        seed_demo(tenant)
    sandbox = make_sandbox(tenant)
    sandbox.faults.latency = args.latency
    root = f"http://127.0.0.1:{args.port}"
    print(f"Graph sandbox: {root}/v1.0   token: {root}/{tenant.tenant_id}/oauth2/v2.0/token")
    if args.seed == "demo":
        print(f"demo app: client id {DEMO_CLIENT_ID}, secret {DEMO_CLIENT_SECRET}")
        print(
            "try: mamoru mail protect --mailbox tanaka@city.example.jp "
            "--sender kujou.claims@example.net",
            flush=True,
        )
    if args.port != DEFAULT_SANDBOX_PORT:
        print(f"set MAMORU_GRAPH_SANDBOX_URL={root} for other mamoru commands", flush=True)
    web.run_app(
        build_web_app(sandbox), host="127.0.0.1", port=args.port, print=None, access_log=None
    )
    return OK


def _admin(settings: Settings, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        settings.graph_sandbox_url.rstrip("/") + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def parse_span(text: str) -> float:
    """Seconds in a span like ``90s``, ``30m``, ``6h``, ``3d``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m:
        raise ValueError(f"not a time span: {text!r} (e.g. 30m, 6h, 3d)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def run_deliver(args: argparse.Namespace) -> int:
    """Inject mail (one message, or a mail bomb) into the running sandbox."""
    settings = _settings()
    if settings is None:
        return BAD_INPUT
    try:
        span = parse_span(args.span)
    except ValueError as exc:
        print(f"mamoru sandbox deliver: {exc}", file=sys.stderr)
        return BAD_INPUT
    payload = {
        "mailbox": args.mailbox,
        "from": args.sender,
        "count": args.count,
        "subject": args.subject,
    }
    if args.count > 1:
        payload["spanSeconds"] = span
    try:
        result = _admin(settings, "/_sandbox/deliver", payload)
    except OSError as exc:
        print(
            f"mamoru sandbox deliver: no sandbox at {settings.graph_sandbox_url} ({exc})",
            file=sys.stderr,
        )
        print("  what to do: start it with `mamoru sandbox --seed demo`", file=sys.stderr)
        return FAILED
    print(f"delivered {result['delivered']} message(s)")
    return OK


def run_faults(args: argparse.Namespace) -> int:
    """Set fault injection on the running sandbox."""
    settings = _settings()
    if settings is None:
        return BAD_INPUT
    keys = ("latency", "rate429", "rate503", "rateDrop", "retryAfter", "fail5xxSeconds")
    payload = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    try:
        print(json.dumps(_admin(settings, "/_sandbox/faults", payload)))
    except OSError as exc:
        print(
            f"mamoru sandbox faults: no sandbox at {settings.graph_sandbox_url} ({exc})",
            file=sys.stderr,
        )
        return FAILED
    return OK
