"""``mamoru serve`` runs the bot; ``mamoru ask`` answers one message exactly as the bot would."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from pydantic import ValidationError

from bot import __version__
from bot.config import Settings
from bot.domain.locale import Locale
from bot.guidance.answer import choose_locale
from bot.logs import configure
from bot.playbooks import PlaybookFileError

log = logging.getLogger("mamoru")


def register(subparsers: Any) -> None:
    """Add ``serve`` and ``ask``."""
    serve = subparsers.add_parser("serve", help="run the bot's web server")
    serve.add_argument("--port", type=int, help="port to listen on (default 3978)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.set_defaults(handler=serve_command)

    ask = subparsers.add_parser("ask", help="answer one message as the bot would")
    ask.add_argument("text", help="what a staff member would write")
    ask.add_argument("--locale", choices=[loc.value for loc in Locale], help="ja (default) or en")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(handler=ask_command)


def load_settings(**overrides: Any) -> Settings | None:
    """Settings from the environment, or None after printing what is wrong."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            print(f"mamoru: setting MAMORU_{field.upper()}: {err['msg']}", file=sys.stderr)
        return None


def serve_command(args: argparse.Namespace) -> int:
    """Run the bot until interrupted."""
    from aiohttp import web

    from bot.app import ConfigurationError, build_app
    from bot.server import settle_collector

    configure()
    settings = load_settings(port=args.port, host=args.host)
    if settings is None:
        return 2
    try:
        app = build_app(settings)
    except (ConfigurationError, PlaybookFileError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    log.info(
        "Mamoru %s listening on http://%s:%d/api/messages",
        __version__,
        settings.host,
        settings.port,
    )
    settle_collector()  # startup's objects frozen, young collections less often
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    except ConfigurationError as exc:  # raised by a startup step (database, local Graph)
        log.error("cannot start: %s", exc)
        return 2
    except OSError as exc:
        log.error(
            "cannot listen on %s:%d (%s): stop what uses the port or set MAMORU_PORT",
            settings.host,
            settings.port,
            exc.strerror,
        )
        return 2
    return 0


def _first_text(elements: list[dict[str, Any]]) -> str:
    """The first TextBlock's text, depth first (the safety card opens with a Container)."""
    for element in elements:
        if element.get("type") == "TextBlock":
            return str(element.get("text", ""))
        if found := _first_text(element.get("items", [])):
            return found
    return ""


def ask_command(args: argparse.Namespace) -> int:
    """Print the answer to one message."""
    from bot.app import build_guide

    settings = load_settings()
    if settings is None:
        return 2
    try:
        guide = build_guide(settings)
    except PlaybookFileError as exc:
        print(f"mamoru: {exc}", file=sys.stderr)
        return 2
    locale = Locale(args.locale) if args.locale else choose_locale(None, args.text)
    answer = guide.answer(args.text, locale)
    if args.json:
        print(json.dumps(answer.as_json(), ensure_ascii=False))
        return 0
    title = _first_text(answer.card["body"])
    confidence = f"{answer.confidence:.2f}"
    print(f"{title}\nplaybook: {answer.playbook_id or '-'}  confidence: {confidence}")
    return 0
