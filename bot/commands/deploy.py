"""``mamoru teams package``: build the Teams app package (zip) from the settings.

The package holds ``manifest.json`` (rendered from ``deploy/teams/manifest.template.json``),
the two icons and the localization files the manifest names. Placeholders are written
``${{NAME}}`` (the Microsoft 365 Agents Toolkit's syntax), filled from Settings:

    BOT_ID           MAMORU_CLIENT_ID (the managed identity's client id in Azure)
    PUBLIC_HOSTNAME  MAMORU_PUBLIC_HOSTNAME (the web app's host name)
    TEAMS_APP_ID     MAMORU_TEAMS_APP_ID, or a GUID derived from the bot id (stable)
    APP_VERSION      Mamoru's version
    DEVELOPER_NAME, WEBSITE_URL, PRIVACY_URL, TERMS_URL   MAMORU_TEAMS_* settings

The zip is byte-for-byte reproducible: fixed timestamps, fixed order.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
import zipfile
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import Settings

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "teams"
TEMPLATE_NAME = "manifest.template.json"
ICONS = ("color.png", "outline.png")
_PLACEHOLDER = re.compile(r"\$\{\{([A-Z_]+)\}\}")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$"
)
# Namespace of the Teams app ids derived from a bot id (any fixed UUID would do).
_APP_ID_NAMESPACE = uuid.UUID("6d616d6f-7275-4000-8000-7465616d7321")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """The package cannot be built; the message says which setting to fix."""


def derived_app_id(bot_id: str) -> str:
    """A Teams app id that stays the same for the same bot id."""
    return str(uuid.uuid5(_APP_ID_NAMESPACE, bot_id.lower()))


def manifest_values(settings: Settings) -> dict[str, str]:
    """The placeholder values from Settings; raises PackageError naming what is missing."""
    bot_id = settings.client_id.strip()
    if not _GUID.match(bot_id):
        raise PackageError(
            "MAMORU_CLIENT_ID must be the bot's app id (a GUID): in Azure, the managed "
            "identity's client id (azd output MAMORU_BOT_APP_ID)"
        )
    host = settings.public_hostname.strip().lower()
    if not _HOSTNAME.match(host):
        raise PackageError(
            "MAMORU_PUBLIC_HOSTNAME must be the web app's host name without https:// or a path, "
            "e.g. app-mamoru-abc123.azurewebsites.net (azd output MAMORU_PUBLIC_HOSTNAME)"
        )
    app_id = settings.teams_app_id.strip() or derived_app_id(bot_id)
    if not _GUID.match(app_id):
        raise PackageError("MAMORU_TEAMS_APP_ID must be a GUID (or empty to derive one)")
    website = settings.teams_website_url.strip() or f"https://{host}/"
    base = website.rstrip("/")
    values = {
        "BOT_ID": bot_id.lower(),
        "TEAMS_APP_ID": app_id.lower(),
        "PUBLIC_HOSTNAME": host,
        "APP_VERSION": __version__,
        "DEVELOPER_NAME": settings.teams_developer_name.strip() or "Mamoru",
        "WEBSITE_URL": website,
        "PRIVACY_URL": settings.teams_privacy_url.strip() or f"{base}/privacy",
        "TERMS_URL": settings.teams_terms_url.strip() or f"{base}/terms",
    }
    for key in ("WEBSITE_URL", "PRIVACY_URL", "TERMS_URL"):
        if not values[key].startswith("https://"):
            raise PackageError(
                f"the Teams {key.lower().replace('_', ' ')} must start with https://"
            )
    return values


def render_manifest(template: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The manifest with every ``${{NAME}}`` replaced; raises PackageError for unknown names."""
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - values.keys())
    if unknown:
        raise PackageError(f"the manifest template uses unknown placeholders: {unknown}")

    def substitute(match: re.Match[str]) -> str:
        # Values land inside JSON strings: escape them as JSON would.
        return json.dumps(values[match.group(1)], ensure_ascii=False)[1:-1]

    manifest: dict[str, Any] = json.loads(_PLACEHOLDER.sub(substitute, template))
    return manifest


def localization_files(manifest: Mapping[str, Any]) -> list[str]:
    """Relative paths of the localization files the manifest names."""
    info = manifest.get("localizationInfo") or {}
    files = [lang["file"] for lang in info.get("additionalLanguages", [])]
    if info.get("defaultLanguageFile"):
        files.append(info["defaultLanguageFile"])
    return files


def package_files(settings: Settings, template_dir: Path = TEMPLATE_DIR) -> dict[str, bytes]:
    """Name → bytes of every file in the package, manifest.json first."""
    template_path = template_dir / TEMPLATE_NAME
    if not template_path.is_file():
        raise PackageError(
            f"{template_path} not found (run from a checkout or pass --template-dir)"
        )
    manifest = render_manifest(template_path.read_text(encoding="utf-8"), manifest_values(settings))
    files = {"manifest.json": (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()}
    for name in [*ICONS, *localization_files(manifest)]:
        path = template_dir / name
        if not path.is_file():
            raise PackageError(f"{path} is missing (named by the manifest)")
        files[name] = path.read_bytes()
    return files


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` at its root, reproducible (fixed timestamps and order)."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def register(subparsers: Any) -> None:
    """Add ``teams package``."""
    teams = subparsers.add_parser("teams", help="the Teams app package")
    teams_sub = teams.add_subparsers(dest="teams_command", metavar="COMMAND")
    teams.set_defaults(handler=lambda _args: _usage(teams))
    package = teams_sub.add_parser(
        "package", help="build the Teams app package (zip) to upload in the Teams admin center"
    )
    package.add_argument("--out", type=Path, default=Path("mamoru-teams.zip"), help="zip to write")
    package.add_argument("--bot-id", help="bot app id (default: MAMORU_CLIENT_ID)")
    package.add_argument("--hostname", help="web app host name (default: MAMORU_PUBLIC_HOSTNAME)")
    package.add_argument(
        "--template-dir", type=Path, default=TEMPLATE_DIR, help="where the manifest template is"
    )
    package.set_defaults(handler=package_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def package_command(args: argparse.Namespace) -> int:
    """Write the Teams app package; 2 when a setting is missing or wrong."""
    from pydantic import ValidationError

    overrides = {"client_id": args.bot_id, "public_hostname": args.hostname}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        files = package_files(settings, args.template_dir)
    except ValidationError as exc:
        print(f"mamoru teams package: invalid settings: {exc}", file=sys.stderr)
        return 2
    except PackageError as exc:
        print(f"mamoru teams package: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(zip_bytes(files))
    manifest = json.loads(files["manifest.json"])
    print(f"wrote {args.out}: {', '.join(files)}")
    print(
        f"  Teams app id {manifest['id']}, bot {manifest['bots'][0]['botId']}, "
        f"domain {manifest['validDomains'][0]}, version {manifest['version']}"
    )
    if not (settings.teams_privacy_url and settings.teams_terms_url):
        print(
            "  note: set MAMORU_TEAMS_PRIVACY_URL and MAMORU_TEAMS_TERMS_URL to your "
            "organisation's pages before publishing to everyone",
            file=sys.stderr,
        )
    return 0
