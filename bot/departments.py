"""Reading the organisation from the settings: the departments file and the role settings.

The file (YAML, or JSON which is YAML too) lists each department with its managers and
staff, by Entra object id and/or Entra group::

    departments:
      - id: shimin-soudan            # the key cases carry; never rename it
        name: 市民相談課
        managers: {group_id: "<Entra group object id>", ids: ["<object id>"]}
        staff: {group_id: "<Entra group object id>", ids: ["<object id>"]}

Without a file, there is one department (``MAMORU_DEFAULT_DEPARTMENT``) managed by
``MAMORU_MANAGER_IDS`` / ``MAMORU_MANAGER_GROUP_ID`` and holding everyone, as before
departments existed. A mistake in the file stops the start with a message naming it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config import Settings
from bot.domain.departments import Department, Members, Organisation


class DepartmentsError(Exception):
    """The departments configuration cannot be used; the message says what to fix."""


class _Members(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(default_factory=list)
    group_id: str = ""

    def to_domain(self) -> Members:
        return Members(frozenset(i.strip() for i in self.ids if i.strip()), self.group_id.strip())


class _Department(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    name: str = ""
    managers: _Members
    staff: _Members = Field(default_factory=_Members)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    departments: list[_Department] = Field(min_length=1)


def load_organisation(settings: Settings) -> Organisation:
    """The organisation the settings describe; raises ``DepartmentsError``."""
    legal = Members(settings.legal_id_set, settings.legal_group_id.strip())
    source, text = _document(settings)
    if text is None:
        single = Department(
            id=settings.default_department,
            name=settings.default_department,
            managers=Members(settings.manager_id_set, settings.manager_group_id.strip()),
        )
        return Organisation((single,), settings.default_department, legal)
    if settings.manager_ids or settings.manager_group_id:
        raise DepartmentsError(
            f"{source} lists each department's managers: remove MAMORU_MANAGER_IDS and "
            "MAMORU_MANAGER_GROUP_ID (they describe the single department used without one)"
        )
    try:
        parsed = _File.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise DepartmentsError(f"{source} is not valid YAML/JSON: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors()
        )
        raise DepartmentsError(f"{source}: {problems}") from None
    departments = []
    for entry in parsed.departments:
        managers = entry.managers.to_domain()
        if managers.is_empty():
            raise DepartmentsError(f"{source}: department {entry.id!r} has no managers")
        departments.append(
            Department(entry.id, entry.name or entry.id, managers, entry.staff.to_domain())
        )
    default = settings.default_department
    if "default_department" not in settings.model_fields_set:
        default = departments[0].id  # unset: the first department listed
    try:
        return Organisation(tuple(departments), default, legal)
    except ValueError as exc:
        raise DepartmentsError(f"{source}: {exc} (MAMORU_DEFAULT_DEPARTMENT)") from None


def _document(settings: Settings) -> tuple[str, str | None]:
    if settings.departments_file and settings.departments:
        raise DepartmentsError("set MAMORU_DEPARTMENTS_FILE or MAMORU_DEPARTMENTS, not both")
    if settings.departments:
        return "MAMORU_DEPARTMENTS", settings.departments
    if settings.departments_file:
        path = Path(settings.departments_file)
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DepartmentsError(
                f"MAMORU_DEPARTMENTS_FILE {path} cannot be read ({exc.strerror})"
            ) from None
    return "", None
