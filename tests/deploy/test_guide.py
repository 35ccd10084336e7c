"""The IT guide (deploy/README.md and README.ja.md): every file it names exists, both agree."""

from __future__ import annotations

import re

import pytest

from tests.deploy.support import DEPLOY
from tests.support.paths import REPO_ROOT

GUIDES = [DEPLOY / "README.md", DEPLOY / "README.ja.md"]
# Paths the guide names that a command creates (not in the repository).
CREATED = {"deploy/app.zip", ".venv/bin/python", ".venv/bin/mamoru", ".venv/tools/checkov"}
PATH = re.compile(
    r"(?<![\w/])((?:\.\./[\w.-]+|\.github|deploy|docs|scripts|bot|tests|\.venv)/[\w./-]*[\w/]"
    r"|azure\.yaml|requirements\.lock|Makefile)"
)


def named_paths(text: str) -> set[str]:
    """Repository paths named in the guide's code spans and code blocks."""
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.S)
    return {m.rstrip("/") for span in spans for m in PATH.findall(span)}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_file_the_guide_names_exists(guide) -> None:  # type: ignore[no-untyped-def]
    paths = named_paths(guide.read_text(encoding="utf-8"))
    assert "deploy/infra/main.bicep" in paths
    missing = []
    for path in sorted(paths - CREATED):
        if not (REPO_ROOT / path).exists():
            missing.append(path)
    assert not missing


@pytest.mark.parametrize("guide", [*GUIDES, REPO_ROOT / "README.md"], ids=lambda p: p.name)
def test_the_guides_point_only_inside_the_repository(guide) -> None:  # type: ignore[no-untyped-def]
    # A clone from GitHub has nothing beside it: a path out of the repository is a dead link.
    text = guide.read_text(encoding="utf-8")
    outside = [p for p in named_paths(text) if p.startswith("../")]
    links = re.findall(r"\]\(([^)#\s]+)", text)
    dead = [
        link
        for link in links
        if "://" not in link and not (guide.parent / link).resolve().is_relative_to(REPO_ROOT)
    ]
    missing = [link for link in links if "://" not in link and not (guide.parent / link).exists()]
    assert not outside and not dead and not missing, (outside, dead, missing)


def test_both_guides_name_the_same_files_and_steps() -> None:
    english, japanese = (g.read_text(encoding="utf-8") for g in GUIDES)
    assert named_paths(english) == named_paths(japanese)
    steps = re.compile(r"^## (\d+)\. ", re.M)
    assert steps.findall(english) == steps.findall(japanese) == [str(i) for i in range(1, 11)]


def test_the_guide_warns_against_tenant_wide_consent() -> None:
    english, japanese = (g.read_text(encoding="utf-8") for g in GUIDES)
    assert "never grant tenant-wide admin consent" in english
    assert "テナント全体の管理者の同意を与えてはいけません" in japanese
    for permission in (
        "Mail.ReadWrite",
        "MailboxSettings.ReadWrite",
        "Mail.Send",
        "Calendars.ReadWrite",
        "GroupMember.Read.All",
    ):
        assert permission in english and permission in japanese


def test_the_guide_ends_with_doctor_and_says_what_ci_does_not_check() -> None:
    for guide in GUIDES:
        text = guide.read_text(encoding="utf-8")
        assert "mamoru doctor" in text
        assert "az bicep build" in text
