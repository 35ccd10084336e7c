"""``mamoru evidence verify|export`` and ``mamoru db upgrade``.

Exit codes: 0 verified / done; 1 verification failed (something was changed);
2 bad input (unknown case, malformed id, unreadable bundle).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.domain.errors import DomainError, IncidentNotFound, InvalidIncidentId
from bot.domain.incidents import Person, parse_incident_id
from bot.domain.ports import SystemClock
from bot.domain.sns import LegalClock
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.export import export_bundle
from bot.evidence.verify import Verification, verify_bundle, verify_case
from bot.store.migrate import upgrade
from bot.store.sql import SqlStore

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

    db = subparsers.add_parser("db", help="database maintenance")
    db_actions = db.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    db_actions.add_parser("upgrade", help="apply the database migrations").set_defaults(
        handler=run_db_upgrade
    )


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _open_store(settings: Settings) -> tuple[SqlStore, LocalBlobStore]:
    # Mirrors bot.app.build_store: the same database and blob directory as the bot.
    blobs = LocalBlobStore(settings.data_dir / "blobs")
    return SqlStore.from_url(settings.effective_database_url, blobs=blobs), blobs


def _print_verification(result: Verification, what: str) -> int:
    if result.ok:
        print(
            f"OK: {what}: {result.count} entries and {result.files} files verified\n"
            f"case {result.case_id}, chain head {result.head}"
        )
        return OK
    print(f"FAILED: {what}: {result.problem}", file=sys.stderr)
    print(
        f"({result.count} entries verified before the problem; last good hash {result.head})",
        file=sys.stderr,
    )
    return FAILED


def _case_id(value: str) -> str:
    parse_incident_id(value)  # clear message for a malformed id before touching the database
    return value.strip()


async def _verify_case(settings: Settings, case_id: str) -> Verification:
    await upgrade(settings.effective_database_url)
    store, blobs = _open_store(settings)
    try:
        return await verify_case(store, blobs, case_id)
    finally:
        await store.close()


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
            return _print_verification(verify_bundle(args.bundle), str(args.bundle))
        case_id = _case_id(args.case)
        return _print_verification(asyncio.run(_verify_case(Settings(), case_id)), case_id)
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
    await upgrade(settings.effective_database_url)
    store, blobs = _open_store(settings)
    try:
        result = await export_bundle(
            store,
            blobs,
            case_id,
            out,
            actor=_actor(),
            clock=SystemClock(),
            legal_clock=LegalClock(settings.sns_legal_warn_days, settings.sns_legal_window_days),
        )
    finally:
        await store.close()
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
    except (IncidentNotFound, InvalidIncidentId) as exc:
        _error(str(exc))
        return BAD_INPUT
    except DomainError as exc:
        # A broken chain or a changed file: refuse to hand out the bundle.
        _error(f"export refused: {exc}")
        return FAILED
    except (SQLAlchemyError, OSError) as exc:
        _error(f"export failed: {type(exc).__name__}: nothing was written")
        return BAD_INPUT


def run_db_upgrade(_args: argparse.Namespace) -> int:
    """``mamoru db upgrade``: apply the migrations to the configured database."""
    url = Settings().effective_database_url
    asyncio.run(upgrade(url))
    print(f"database schema is up to date: {make_url(url).render_as_string(hide_password=True)}")
    return OK
