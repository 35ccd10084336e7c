"""deploy/exchange: PowerShell syntax (tree-sitter grammar) and what the scripts must do.

PowerShell and Exchange Online are not available here: the scripts are parsed, not run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from tests.deploy.support import DEPLOY

EXCHANGE = DEPLOY / "exchange"
SCRIPTS = sorted(EXCHANGE.glob("*.ps1"))
ROLES = (
    "Application Mail.ReadWrite",
    "Application MailboxSettings.ReadWrite",
    "Application Mail.Send",
    "Application Calendars.ReadWrite",
)


def _errors(source: bytes) -> list[str]:
    parser = Parser(Language(tree_sitter_powershell.language()))
    found: list[str] = []

    def walk(node: Node) -> None:
        if node.is_error or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.type}")
        for child in node.children:
            walk(child)

    walk(parser.parse(source).root_node)
    return found


def _text(name: str) -> str:
    return (EXCHANGE / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse(path: Path) -> None:
    assert not _errors(path.read_bytes())


def test_the_parser_catches_a_syntax_error() -> None:
    assert _errors(b"if ($x -eq {\n foreach ($a in ) {\n")


def test_grant_script_scopes_the_four_roles_to_a_group() -> None:
    text = _text("Grant-MamoruMailboxAccess.ps1")
    for needed in (
        "New-ServicePrincipal",
        "New-ManagementScope",
        "-RecipientRestrictionFilter",
        "MemberOfGroup -eq",
        "New-ManagementRoleAssignment",
        "-App $ServicePrincipalObjectId",
        "CustomResourceScope",
        "RecipientAdministrativeUnitScope",
        "Test-ServicePrincipalAuthorization",
        "-InScopeMailbox",
        "-OutOfScopeMailbox",
        "SupportsShouldProcess",
    ):
        assert needed in text, needed
    for role in ROLES:
        assert f"'{role}'" in text
    # The warning, in both languages.
    assert "tenant-wide" in text and "テナント全体" in text
    assert "RBAC for Applications ADDS to" in text


def test_removal_script_undoes_the_grant() -> None:
    text = _text("Remove-MamoruMailboxAccess.ps1")
    for needed in (
        "Remove-ManagementRoleAssignment",
        "Remove-ManagementScope",
        "Remove-ServicePrincipal",
    ):
        assert needed in text


def test_group_reader_script_grants_only_group_member_read() -> None:
    text = _text("Grant-MamoruGroupMemberRead.ps1")
    assert "$Permission = 'GroupMember.Read.All'" in text
    assert "New-MgServicePrincipalAppRoleAssignment" in text
    body = text.split("#>", 1)[1]  # after the comment-based help
    code = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("#"))
    for permission in ("Mail.ReadWrite", "Mail.Send", "MailboxSettings", "Calendars"):
        assert permission not in code
