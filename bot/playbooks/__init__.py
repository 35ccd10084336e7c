"""Loading the playbooks (YAML files in this folder) into validated domain models.

A file that does not parse or validate stops startup with a message naming the
file and the field, so a content mistake never reaches a staff member.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.domain.playbooks import Playbook, PlaybookLibrary

SHIPPED_DIR = Path(__file__).parent


class PlaybookFileError(Exception):
    """A playbook file is missing, unreadable or invalid; the message says where."""


def load_playbook(path: Path) -> Playbook:
    """Parse and validate one playbook file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookFileError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PlaybookFileError(f"{path}: is not valid YAML: {exc}") from exc
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or '(file)'}': {err['msg']}"
            for err in exc.errors()
        )
        raise PlaybookFileError(f"{path}: {problems}") from exc


def load_library(directory: Path | None = None) -> PlaybookLibrary:
    """Every ``*.yaml`` playbook in ``directory`` (default: the shipped ones), sorted by name."""
    folder = directory or SHIPPED_DIR
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise PlaybookFileError(f"{folder}: no playbook files (*.yaml) found")
    try:
        return PlaybookLibrary([load_playbook(f) for f in files])
    except ValueError as exc:
        raise PlaybookFileError(f"{folder}: {exc}") from exc
