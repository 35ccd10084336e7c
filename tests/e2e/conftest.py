"""Fixtures of the end-to-end tests: Mamoru, the Agents Playground and a Chromium page.

- ``mamoru``: ``python -m bot serve`` on a free port, anonymous, with a temporary
  data directory (one per test module).
- ``playground``: the Agents Playground from ``node_modules`` pointed at it, on a
  free port, never opening a browser itself (one per test: a fresh chat).
- ``page``: a page of headless Debian Chromium (``/usr/bin/chromium``, driven by
  Playwright; no downloaded browser) with the Playground's chat open.

When a test fails, a screenshot, the page's HTML and both servers' logs are saved
under ``$MAMORU_E2E_ARTIFACTS`` (default: ``<tmp>/mamoru-e2e``); the path is
printed with the failure.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.playground import open_chat
from tests.e2e.processes import (
    PLAYGROUND_BIN,
    ChildProcess,
    free_port,
    start_mamoru,
    start_playground,
)

CHROMIUM = Path(os.environ.get("MAMORU_E2E_CHROMIUM", "/usr/bin/chromium"))
# Flags for a headless Chromium on a machine with no network beyond localhost.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_TIMEOUT_MS = 30_000

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


@dataclass(frozen=True)
class Server:
    """A started server: its process and where to reach it."""

    process: ChildProcess
    port: int

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_reports, {})[report.when] = report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e with ``e2e`` (mandatory in CI)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


# Module scope, not session: while sync Playwright runs, its event loop counts as
# the thread's running loop, which would break the asyncio tests run after it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: as root, apt-get update && apt-get install -y chromium "
            "(make test does it)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def mamoru(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Mamoru serving /api/messages anonymously on a free port."""
    logs = tmp_path_factory.mktemp("mamoru-logs")
    port = free_port()
    process = start_mamoru(port, tmp_path_factory.mktemp("mamoru-data"), logs)
    try:
        yield Server(process, port)
    finally:
        process.stop()


@pytest.fixture
def playground(mamoru: Server, tmp_path: Path) -> Iterator[Server]:
    """The Agents Playground for ``mamoru``, with a fresh personal chat."""
    if not PLAYGROUND_BIN.exists():
        pytest.skip(f"{PLAYGROUND_BIN} is missing: run scripts/setup.sh (npm ci)")
    process, port = start_playground(mamoru.port, free_port(), tmp_path)
    try:
        yield Server(process, port)
    finally:
        process.stop()


@pytest.fixture
def page(
    browser: Browser, playground: Server, mamoru: Server, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A Chromium page with the Playground's chat open and ready to type in."""
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        open_chat(page, playground.url)
        yield page
    finally:
        reports = request.node.stash.get(_reports, {})
        if any(r.failed for r in reports.values()):
            _save_artifacts(request.node.name, page, console, [mamoru, playground])
        context.close()


def _save_artifacts(name: str, page: Page, console: list[str], servers: list[Server]) -> None:
    """Keep what is needed to understand a failure: screenshot, HTML, console, server logs."""
    default = Path(tempfile.gettempdir()) / "mamoru-e2e"
    base = Path(os.environ.get("MAMORU_E2E_ARTIFACTS") or default)
    target = base / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    target.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(target / "screenshot.png"), full_page=True)
        (target / "page.html").write_text(page.content(), encoding="utf-8")
    except Exception as exc:  # the page may be gone; the logs still help
        (target / "screenshot-error.txt").write_text(repr(exc), encoding="utf-8")
    (target / "browser-console.log").write_text("\n".join(console), encoding="utf-8")
    for server in servers:
        shutil.copy(server.process.log_path, target / server.process.log_path.name)
    print(f"\ne2e artifacts (screenshot, page, logs): {target}", file=sys.stderr)
