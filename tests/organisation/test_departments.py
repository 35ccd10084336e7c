"""The departments configuration: file, inline document, the single-department default,
and the directory that turns it into people's roles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app import ConfigurationError, build_app
from bot.config import Settings
from bot.departments import DepartmentsError, load_organisation
from bot.directory import OrganisationDirectory
from bot.domain.access import Role

YAML = """\
departments:
  - id: shimin
    name: 市民相談課
    managers: {group_id: grp-shimin-managers, ids: [oid-kacho]}
    staff: {ids: [oid-tanaka]}
  - id: zeimu
    name: 税務課
    managers: {ids: [oid-zeimu]}
    staff: {group_id: grp-zeimu-staff}
"""


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, allow_anonymous=True, **values)  # type: ignore[arg-type]


def test_the_file_is_read_with_names_managers_and_staff(tmp_path: Path) -> None:
    path = tmp_path / "departments.yaml"
    path.write_text(YAML, encoding="utf-8")
    organisation = load_organisation(settings(departments_file=path, legal_ids="oid-legal"))
    assert [d.id for d in organisation.departments] == ["shimin", "zeimu"]
    assert organisation.default_department == "shimin"  # unset: the first one listed
    shimin = organisation.get("shimin")
    assert shimin and shimin.name == "市民相談課"
    assert shimin.managers.group_id == "grp-shimin-managers"
    assert organisation.legal.ids == {"oid-legal"}


def test_inline_json_and_an_explicit_default() -> None:
    document = {
        "departments": [
            {"id": "a", "managers": {"ids": ["m"]}},
            {"id": "b", "managers": {"ids": ["n"]}},
        ]
    }
    organisation = load_organisation(
        settings(departments=json.dumps(document), default_department="b")
    )
    assert organisation.default_department == "b"
    assert organisation.name_of("a") == "a"  # no name: the id


def test_without_departments_everyone_is_in_the_default_one() -> None:
    organisation = load_organisation(settings(manager_ids="m1, m2", manager_group_id="g"))
    (only,) = organisation.departments
    assert (only.id, only.managers.ids, only.managers.group_id) == ("default", {"m1", "m2"}, "g")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"departments": "departments: []"}, "departments"),
        ({"departments": "departments: [{id: a}]"}, "managers"),
        ({"departments": "departments: [{id: a, managers: {}}]"}, "has no managers"),
        ({"departments": "departments: [{id: a, managers: {ids: [m]}, boss: x}]"}, "boss"),
        (
            {"departments": "departments: [{id: a, managers: {ids: [m]}}]", "manager_ids": "m"},
            "MAMORU_MANAGER_IDS",
        ),
        (
            {
                "departments": "departments: [{id: a, managers: {ids: [m]}}]",
                "default_department": "b",
            },
            "MAMORU_DEFAULT_DEPARTMENT",
        ),
        (
            {
                "departments": "departments: [{id: a, managers: {ids: [m]}},"
                " {id: a, managers: {ids: [n]}}]"
            },
            "own id",
        ),
        ({"departments": "departments: [unclosed"}, "not valid YAML"),
        ({"departments_file": Path("/nonexistent/departments.yaml")}, "cannot be read"),
    ],
)
def test_mistakes_stop_the_start_with_a_message(values: dict[str, object], message: str) -> None:
    with pytest.raises(DepartmentsError, match=message):
        load_organisation(settings(**values))
    with pytest.raises(ConfigurationError, match=message):
        build_app(settings(graph_sandbox_embedded=False, **values))


async def test_the_directory_resolves_roles_and_departments(tmp_path: Path) -> None:
    path = tmp_path / "departments.yaml"
    path.write_text(YAML, encoding="utf-8")
    asked: list[tuple[str, str]] = []
    groups = {"grp-shimin-managers": {"oid-kakaricho"}, "grp-zeimu-staff": {"oid-suzuki"}}

    async def in_group(group_id: str, object_id: str) -> bool:
        asked.append((group_id, object_id))
        return object_id in groups.get(group_id, set())

    organisation = load_organisation(settings(departments_file=path, legal_group_id="grp-legal"))
    groups["grp-legal"] = {"oid-houmu"}
    directory = OrganisationDirectory(organisation, group_check=in_group)
    kakaricho = await directory.viewer("oid-kakaricho")
    assert kakaricho.managed_departments == {"shimin"} and Role.MANAGER in kakaricho.roles
    assert (await directory.viewer("oid-zeimu")).managed_departments == {"zeimu"}
    houmu = await directory.viewer("oid-houmu")
    assert houmu.is_legal and not houmu.is_manager
    tanaka = await directory.viewer("oid-tanaka")
    assert not tanaka.is_manager and not tanaka.is_legal
    assert await directory.department_of("oid-tanaka") == "shimin"
    assert await directory.department_of("oid-suzuki") == "zeimu"  # through the staff group
    assert await directory.department_of("oid-zeimu") == "zeimu"  # a manager: where they manage
    assert await directory.department_of("oid-nobody") == "shimin"  # the default department
    calls = len(asked)
    await directory.viewer("oid-kakaricho")
    assert len(asked) == calls  # group answers are cached for a while


async def test_the_demo_office_has_two_departments() -> None:
    """`make run`: 高橋 課長 manages 田中 花子's department, not 鈴木 次郎's."""
    from graph.sandbox import Tenant, seed_demo
    from graph.sandbox.seed import DEMO_USER_IDS

    tenant = Tenant()
    seed_demo(tenant, flood=1)

    async def in_group(group_id: str, object_id: str) -> bool:
        group = tenant.groups.get(group_id)
        return bool(group) and object_id in group.member_ids

    demo = Path(__file__).parents[2] / "scripts" / "playground" / "departments.yaml"
    directory = OrganisationDirectory(
        load_organisation(settings(departments_file=demo)), group_check=in_group
    )
    ids = DEMO_USER_IDS
    tanaka, suzuki = ids["tanaka@city.example.jp"], ids["suzuki@city.example.jp"]
    kacho, bucho = ids["kacho@city.example.jp"], ids["bucho@city.example.jp"]
    assert await directory.department_of(tanaka) == "shimin-soudan"
    assert await directory.department_of(suzuki) == "zeimu"
    assert (await directory.viewer(kacho)).managed_departments == {"shimin-soudan"}
    assert (await directory.viewer(bucho)).managed_departments == {"shimin-soudan", "zeimu"}
    assert directory.department_name("shimin-soudan") == "市民相談課"


def test_doctor_checks_the_departments() -> None:
    from bot.doctor.configuration import check_managers

    good = {
        "departments": [
            {"id": "a", "managers": {"group_id": "d3e0a001-0000-4000-8000-0000000000a0"}}
        ]
    }
    finding = check_managers(settings(departments=json.dumps(good)), {})
    assert finding.status.value == "ok" and "1 department" in finding.what
    bad = {"departments": [{"id": "a", "managers": {"ids": ["kacho@city.example.lg.jp"]}}]}
    assert check_managers(settings(departments=json.dumps(bad)), {}).status.value == "fail"
    broken = check_managers(settings(departments="departments: []"), {})
    assert broken.status.value == "fail"
