"""``mamoru evidence verify|export|anchor`` and ``mamoru db upgrade``.

Exit codes: 0 verified / done; 1 verification failed (something was changed);
2 bad input (unknown case, malformed id, unreadable bundle).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.commands.files import describe_os_error
from bot.config import Settings
from bot.domain.errors import DomainError, IncidentNotFound, InvalidIncidentId
from bot.domain.incidents import Person, parse_incident_id
from bot.domain.ports import SystemClock
from bot.domain.sns import LegalClock
from bot.evidence.anchors import Anchoring, AnchorRun
from bot.evidence.export import export_bundle
from bot.evidence.org_bundle import OrgVerification, is_org_bundle, verify_org_bundle
from bot.evidence.verify import Verification, verify_bundle, verify_case
from bot.store.migrate import upgrade
from bot.store.sql import SqlStore

if TYPE_CHECKING:
    from bot.app import EvidenceStorage

OK, FAILED, BAD_INPUT = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``evidence`` and ``db`` to the ``mamoru`` command."""
    evidence = subparsers.add_parser("evidence", help="verify or export a case's evidence")
    actions = evidence.add_subparsers(dest="evidence_action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="recompute a case's hash chain and file hashes, or check a bundle"
    )
    verify.add_argument("case", nargs="?", help="case id, e.g. KH-2026-0001")
    verify.add_argument("--bundle", type=Path, metavar="FILE.zip", help="check an export bundle")
    verify.set_defaults(handler=run_verify)
    export = actions.add_parser("export", help="write a case's evidence bundle (ZIP)")
    export.add_argument("case", help="case id, e.g. KH-2026-0001")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.zip")
    export.set_defaults(handler=run_export)
    anchor = actions.add_parser(
        "anchor",
        help="copy chain heads outside the database now (the bot does it every few minutes)",
    )
    anchor.add_argument("case", nargs="?", help="one case (default: every case)")
    anchor.set_defaults(handler=run_anchor)

    db = subparsers.add_parser("db", help="database maintenance")
    db_actions = db.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    db_actions.add_parser("upgrade", help="apply the database migrations").set_defaults(
        handler=run_db_upgrade
    )


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _open_store(settings: Settings) -> tuple[SqlStore, EvidenceStorage]:
    # The same database and evidence storage (container or data directory) as the bot.
    from bot.app import build_evidence_storage

    evidence = build_evidence_storage(settings)
    return SqlStore.from_url(settings.effective_database_url, blobs=evidence.blobs), evidence


async def _upgrade(settings: Settings) -> None:
    """Migrate as the owner role when one is configured, granting the app's role."""
    app_url = settings.effective_database_url if settings.migration_database_url else None
    await upgrade(settings.effective_migration_url, app_url=app_url)


def _print_verification(result: Verification, what: str, *, anchored: bool = False) -> int:
    if result.ok:
        print(
            f"OK: {what}: {result.count} entries and {result.files} files verified\n"
            f"case {result.case_id}, chain head {result.head}"
        )
        if result.anchor is not None:
            at = result.anchor.at.isoformat(timespec="seconds")
            print(
                f"matches the anchor outside the database: entry {result.anchor.head.count}, {at}"
            )
        elif anchored and result.count:
            print(
                "no anchor outside the database yet (the bot writes one every few minutes; "
                "`mamoru evidence anchor` now)"
            )
        return OK
    print(f"FAILED: {what}: {result.problem}", file=sys.stderr)
    print(
        f"({result.count} entries verified before the problem; last good hash {result.head})",
        file=sys.stderr,
    )
    return FAILED


def _print_org_verification(result: OrgVerification, what: str) -> int:
    """A combined bundle: one line per member bundle, then the whole."""
    for member in result.members:
        state = "OK" if member.ok else "FAILED"
        print(f"  {state}: {member.case_id}: {member.count} entries, chain head {member.head}")
    if result.ok:
        print(
            f"OK: {what}: organisational case {result.org_case}, {len(result.members)} case "
            f"bundles and {result.files} files verified, each on its own"
        )
        return OK
    print(f"FAILED: {what}: {result.problem}", file=sys.stderr)
    return FAILED


def _case_id(value: str) -> str:
    parse_incident_id(value)  # clear message for a malformed id before touching the database
    return value.strip()


async def _verify_case(settings: Settings, case_id: str) -> Verification:
    await _upgrade(settings)
    store, evidence = _open_store(settings)
    try:
        return await verify_case(store, evidence.blobs, case_id, evidence.anchors)
    finally:
        await store.close()
        await evidence.aclose()


def run_verify(args: argparse.Namespace) -> int:
    """``mamoru evidence verify CASE`` or ``--bundle FILE.zip``."""
    if (args.case is None) == (args.bundle is None):
        _error("give either a case id or --bundle FILE.zip")
        return BAD_INPUT
    try:
        if args.bundle is not None:
            if not args.bundle.is_file():
                _error(f"no such file: {args.bundle}")
                return BAD_INPUT
            if is_org_bundle(args.bundle):
                return _print_org_verification(verify_org_bundle(args.bundle), str(args.bundle))
            return _print_verification(verify_bundle(args.bundle), str(args.bundle))
        case_id = _case_id(args.case)
        result = asyncio.run(_verify_case(Settings(), case_id))
        return _print_verification(result, case_id, anchored=True)
    except (IncidentNotFound, InvalidIncidentId) as exc:
        _error(str(exc))
        return BAD_INPUT
    except DomainError as exc:
        _error(str(exc))
        return FAILED if args.bundle is None else BAD_INPUT
    except (SQLAlchemyError, OSError) as exc:
        _error(f"database unavailable: {type(exc).__name__}")
        return BAD_INPUT


def _actor() -> Person:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Person(f"cli:{user}", f"mamoru CLI ({user})")


async def _export(settings: Settings, case_id: str, out: Path) -> int:
    await _upgrade(settings)
    store, evidence = _open_store(settings)
    try:
        result = await export_bundle(
            store,
            evidence.blobs,
            case_id,
            out,
            actor=_actor(),
            clock=SystemClock(),
            legal_clock=LegalClock(settings.sns_legal_warn_days, settings.sns_legal_window_days),
        )
        if evidence.container is not None:
            await evidence.container.put_export(case_id, out)
        await Anchoring(store, evidence.anchors, SystemClock()).anchor_case(case_id)
    finally:
        await store.close()
        await evidence.aclose()
    print(
        f"wrote {result.path}: {result.count} entries, {result.files} files\n"
        f"chain head {result.head}\n"
        "give the chain head to the recipient by another channel (letter, phone)"
    )
    return OK


def run_export(args: argparse.Namespace) -> int:
    """``mamoru evidence export CASE --out FILE.zip``."""
    out: Path = args.out
    if out.suffix.lower() != ".zip":
        _error("--out must name a .zip file")
        return BAD_INPUT
    if not out.parent.is_dir():
        _error(f"no such directory: {out.parent}")
        return BAD_INPUT
    if out.exists():
        # A bundle may already have been handed over: never replace it silently.
        _error(f"{out} already exists")
        return BAD_INPUT
    try:
        return asyncio.run(_export(Settings(), _case_id(args.case), out))
    except FileExistsError:
        # Appeared while the bundle was being written: the check at the end is atomic.
        _error(f"{out} already exists (written by someone else meanwhile); yours was discarded")
        return BAD_INPUT
    except (IncidentNotFound, InvalidIncidentId) as exc:
        _error(str(exc))
        return BAD_INPUT
    except DomainError as exc:
        # A broken chain or a changed file: refuse to hand out the bundle.
        _error(f"export refused: {exc}")
        return FAILED
    except OSError as exc:
        _error(
            f"export failed: {describe_os_error(exc)}. Nothing was written to {out}; "
            "the case and its evidence are unchanged. Fix that and run the command again."
        )
        return FAILED
    except SQLAlchemyError as exc:
        _error(f"export failed: {type(exc).__name__}: nothing was written")
        return BAD_INPUT


def run_db_upgrade(_args: argparse.Namespace) -> int:
    """``mamoru db upgrade``: apply the migrations (as the owner role, if configured)."""
    settings = Settings()
    url = settings.effective_migration_url
    asyncio.run(_upgrade(settings))
    print(f"database schema is up to date: {make_url(url).render_as_string(hide_password=True)}")
    if settings.migration_database_url:
        role = make_url(settings.effective_database_url).username
        print(f"the app's role {role} may read and append, never change or delete evidence")
    return OK


async def _anchor(settings: Settings, case_id: str | None) -> AnchorRun:
    await _upgrade(settings)
    store, evidence = _open_store(settings)
    try:
        anchoring = Anchoring(store, evidence.anchors, SystemClock())
        return await (anchoring.anchor_case(case_id) if case_id else anchoring.anchor_all())
    finally:
        await store.close()
        await evidence.aclose()


def run_anchor(args: argparse.Namespace) -> int:
    """``mamoru evidence anchor [CASE]``: copy chain heads outside the database now."""
    try:
        case_id = _case_id(args.case) if args.case else None
        run = asyncio.run(_anchor(Settings(), case_id))
    except (IncidentNotFound, InvalidIncidentId) as exc:
        _error(str(exc))
        return BAD_INPUT
    except (SQLAlchemyError, OSError) as exc:
        _error(f"database or evidence storage unavailable: {type(exc).__name__}")
        return BAD_INPUT
    print(f"anchors: {run.written} written, {run.unchanged} unchanged")
    if run.behind:
        _error(
            f"{len(run.behind)} case(s) are behind their anchor (evidence deleted or "
            f"rewritten in the database): {', '.join(run.behind[:20])}"
        )
        return FAILED
    return OK
