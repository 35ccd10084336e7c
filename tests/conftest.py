"""Test suite hooks shared by every test.

With ``CI=true`` the tests marked ``postgres``, ``e2e``, ``toolchain`` or ``azurite``
(Blob Storage emulator) are mandatory: if one of
them is skipped (no PostgreSQL, no Chromium, no Playground...), the skip is turned
into a failure, so that CI can never be green without having run them. Locally
they may still skip, with the reason shown by ``pytest -rs``.

Other fixtures may be appended below the hooks.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

# Fixtures shared across test packages (pytest loads plugins only from the root conftest).
pytest_plugins = ["tests.graph.fixtures", "tests.support.azurite", "tests.support.onedrive"]

MANDATORY_IN_CI = ("postgres", "e2e", "toolchain", "azurite")


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set to a true value)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _mandatory_markers(item: pytest.Item) -> list[str]:
    return [name for name in MANDATORY_IN_CI if item.get_closest_marker(name) is not None]


def _skip_reason(longrepr: object) -> str:
    # A skip's longrepr is a (path, line, reason) tuple.
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Under CI, report a skipped ``postgres``/``e2e`` test as a failure."""
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    markers = _mandatory_markers(item)
    if not markers:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: tests marked {'/'.join(markers)} must run, but this one was skipped: "
        f"{_skip_reason(report.longrepr)}"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    """Under CI, fail a module that skips itself while it holds ``postgres``/``e2e`` tests.

    A module-level skip (``pytest.importorskip``, ``pytest.skip(allow_module_level=True)``)
    happens before its marks are known, so the module's source is searched for them.
    """
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped and isinstance(collector, pytest.Module)):
        return
    try:
        source = Path(collector.path).read_text(encoding="utf-8")
    except OSError:
        return
    markers = [name for name in MANDATORY_IN_CI if f"mark.{name}" in source]
    if markers:
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: {collector.path.name} holds tests marked {'/'.join(markers)}, "
            f"which must run, but the whole module was skipped: {_skip_reason(report.longrepr)}"
        )
