"""deploy/infra and azure.yaml, checked offline.

Bicep cannot be compiled here (the Bicep CLI is a .NET binary that no registry reachable
from this machine ships), so these tests do what can be done without it: a full syntax
parse with the tree-sitter Bicep grammar, cross-file consistency (modules, their
parameters and outputs, the parameters file, azure.yaml), and the properties the design
relies on. checkov's security rules run in test_toolchain.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tree_sitter_bicep
import yaml
from tree_sitter import Language, Node, Parser

from bot.config import Settings
from tests.deploy.support import INFRA
from tests.support.paths import REPO_ROOT

BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
MODULE = re.compile(r"^module (\w+) '([^']+)' = \{\n(.*?)^\}", re.M | re.S)
PARAM = re.compile(r"^param (\w+) (\w+)( = .*)?$", re.M)
OUTPUT = re.compile(r"^output (\w+) \w+ = ", re.M)
# MAMORU_* app settings that name settings other features read (or will read).
NOT_YET_SETTINGS = {
    "DEPARTMENT_MAILBOX": "escalation (issue 5) reads it",
}


def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


def _syntax_errors(source: bytes) -> list[str]:
    errors: list[str] = []

    def walk(node: Node) -> None:
        if node.is_error or node.is_missing:
            row, column = node.start_point
            errors.append(f"line {row + 1}, column {column + 1}: {node.type}")
        for child in node.children:
            walk(child)

    walk(_parser().parse(source).root_node)
    return errors


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _params(path: Path) -> dict[str, bool]:
    """Parameter name → whether it has a default value."""
    return {m.group(1): bool(m.group(3)) for m in PARAM.finditer(_text(path))}


def _modules() -> list[tuple[str, Path, set[str]]]:
    """(symbolic name, file, parameter names passed) of each module in main.bicep."""
    found = []
    for name, rel, body in MODULE.findall(_text(INFRA / "main.bicep")):
        params_block = re.search(r"^  params: \{\n(.*?)^  \}", body, re.M | re.S)
        passed = (
            set(re.findall(r"^    (\w+):", params_block.group(1), re.M)) if params_block else set()
        )
        found.append((name, INFRA / rel, passed))
    return found


def test_there_are_bicep_files() -> None:
    assert INFRA / "main.bicep" in BICEP_FILES
    assert len(BICEP_FILES) >= 8


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_bicep_parses_without_syntax_errors(path: Path) -> None:
    assert not _syntax_errors(path.read_bytes())


def test_the_parser_catches_a_syntax_error() -> None:
    assert _syntax_errors(b"param x string\nresource r 'a@1' = {\n  name: \n}\n")


def test_every_module_gets_the_parameters_it_declares() -> None:
    modules = _modules()
    assert {name for name, _p, _s in modules} >= {
        "identity", "monitoring", "network", "postgres", "vault", "storage", "app", "bot"
    }  # fmt: skip
    for name, path, passed in modules:
        assert path.is_file(), f"module {name}: {path} is missing"
        declared = _params(path)
        assert passed <= declared.keys(), f"{name}: unknown params {passed - declared.keys()}"
        required = {p for p, has_default in declared.items() if not has_default}
        assert required <= passed, f"{name}: missing params {required - passed}"


def test_every_module_output_used_exists() -> None:
    main = _text(INFRA / "main.bicep")
    files = {name: path for name, path, _s in _modules()}
    for module, output in set(re.findall(r"\b(\w+)\.outputs\.(\w+)", main)):
        assert output in OUTPUT.findall(_text(files[module])), f"{module}.outputs.{output}"


def test_parameters_file_matches_main_and_holds_no_secret() -> None:
    values = json.loads(_text(INFRA / "main.parameters.json"))["parameters"]
    declared = _params(INFRA / "main.bicep")
    assert values.keys() <= declared.keys()
    required = {p for p, has_default in declared.items() if not has_default}
    assert required <= values.keys()
    for name, entry in values.items():
        value = entry["value"]
        assert re.fullmatch(r"\$\{[A-Z_]+(=[\w-]*)?\}|\$\(secretOrRandomPassword [^)]+\)", value), (
            f"{name}: only azd substitutions in the parameters file, got {value!r}"
        )


def test_secure_parameters_have_no_default() -> None:
    for path in BICEP_FILES:
        text = _text(path)
        for match in re.finditer(r"@secure\(\)\n(?:@.*\n)*param (\w+) \w+(.*)", text):
            assert not match.group(2).strip(), f"{path.name}: {match.group(1)} has a default"


def test_outputs_name_what_the_guide_needs() -> None:
    outputs = set(OUTPUT.findall(_text(INFRA / "main.bicep")))
    assert {
        "MAMORU_BOT_APP_ID",
        "MAMORU_PUBLIC_HOSTNAME",
        "MAMORU_WEB_APP_NAME",
        "MAMORU_IDENTITY_PRINCIPAL_ID",
        "MAMORU_IDENTITY_CLIENT_ID",
        "AZURE_KEY_VAULT_NAME",
        "AZURE_RESOURCE_GROUP",
    } <= outputs
    guide = _text(REPO_ROOT / "deploy" / "README.md")
    for name in ("MAMORU_BOT_APP_ID", "MAMORU_PUBLIC_HOSTNAME", "AZURE_KEY_VAULT_NAME"):
        assert name in guide


def test_the_design_properties_hold() -> None:
    app = _text(INFRA / "modules" / "app.bicep")
    assert "linuxFxVersion: 'PYTHON|3.12'" in app
    assert "appCommandLine: 'python -m bot serve --host 0.0.0.0 --port ${port}'" in app
    assert "healthCheckPath: '/healthz'" in app
    assert "httpsOnly: true" in app
    assert "@Microsoft.KeyVault(VaultName=" in app
    assert "'MAMORU_AUTH_TYPE'\n          value: 'UserManagedIdentity'" in app
    bot = _text(INFRA / "modules" / "bot.bicep")
    assert "msaAppType: 'UserAssignedMSI'" in bot and "'MsTeamsChannel'" in bot
    vault = _text(INFRA / "modules" / "keyvault.bicep")
    for prop in (
        "enableRbacAuthorization: true",
        "enablePurgeProtection: true",
        "enableSoftDelete: true",
    ):
        assert prop in vault
    pg = _text(INFRA / "modules" / "postgres.bicep")
    assert "delegatedSubnetResourceId" in pg and "require_secure_transport" in pg
    assert "postgresql+asyncpg://" in _text(INFRA / "main.bicep")
    assert "?ssl=require" in _text(INFRA / "main.bicep")
    storage = _text(INFRA / "modules" / "storage.bicep")
    assert "immutableStorageWithVersioning" in storage and "immutabilityPolicies" in storage
    assert "allowSharedKeyAccess: false" in storage and "publicNetworkAccess: 'Disabled'" in storage
    network = _text(INFRA / "modules" / "network.bicep")
    assert "Microsoft.Network/natGateways" in network and "natGateway: {" in network
    monitoring = _text(INFRA / "modules" / "monitoring.bicep")
    assert "Microsoft.OperationalInsights/workspaces" in monitoring
    assert "Microsoft.Insights/components" in monitoring


def test_app_settings_name_real_settings() -> None:
    names = re.findall(r"name: 'MAMORU_(\w+)'", _text(INFRA / "modules" / "app.bicep"))
    fields = {f.upper() for f in Settings.model_fields}
    unknown = [n for n in names if n not in fields and n not in NOT_YET_SETTINGS]
    assert not unknown, f"app settings no Settings field reads: {unknown}"


def test_azure_yaml_points_at_the_infra_and_the_app() -> None:
    project = yaml.safe_load(_text(REPO_ROOT / "azure.yaml"))
    assert (REPO_ROOT / project["infra"]["path"] / f"{project['infra']['module']}.bicep").is_file()
    ((service_name, service),) = project["services"].items()
    assert (REPO_ROOT / service["project"]).is_dir()
    assert service["host"] == "appservice" and service["language"] == "python"
    # azd finds the web app by this tag.
    assert f"'azd-service-name': '{service_name}'" in _text(INFRA / "modules" / "app.bicep")
    hook = project["hooks"]["prepackage"]["posix"]["run"]
    assert (REPO_ROOT / hook.split()[-1]).is_file()
