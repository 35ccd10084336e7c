"""``mamoru doctor``: checks of the configuration, the Graph permissions and the database.

Each check returns ``Finding``s: a status (ok, warn, fail), what was found and how
to fix it. ``run_doctor`` runs them all; nothing is changed anywhere (Graph is only
read, the database is only queried).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the doctor's report."""

    area: str  # Configuration, Graph, Database
    name: str  # what was checked, e.g. "Bot identity"
    status: Status
    what: str  # what was found
    fix: str = ""  # how to fix it (empty when there is nothing to do)

    def as_json(self) -> dict[str, str]:
        """The finding as a JSON object."""
        return {
            "area": self.area,
            "check": self.name,
            "status": self.status.value,
            "what": self.what,
            "fix": self.fix,
        }


def ok(area: str, name: str, what: str) -> Finding:
    """A passed check."""
    return Finding(area, name, Status.OK, what)


def warn(area: str, name: str, what: str, fix: str) -> Finding:
    """Works, but should be looked at."""
    return Finding(area, name, Status.WARN, what, fix)


def fail(area: str, name: str, what: str, fix: str) -> Finding:
    """Wrong: Mamoru is broken or more privileged than it may be."""
    return Finding(area, name, Status.FAIL, what, fix)


def exit_code(findings: list[Finding]) -> int:
    """0 when nothing failed, 1 otherwise."""
    return 1 if any(f.status is Status.FAIL for f in findings) else 0
