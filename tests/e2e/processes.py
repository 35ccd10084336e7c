"""Child processes of the end-to-end tests: Mamoru itself and the Agents Playground.

Each process runs in its own process group with its output in a log file, and
``stop()`` ends the whole group (TERM, then KILL), so nothing outlives a test,
whatever happened in it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAYGROUND_BIN = REPO / "node_modules" / ".bin" / "agentsplayground"
STARTUP_TIMEOUT = 60.0
CONFIG_GRACE = 1.5  # seconds a Playground must stay up after listening (config checked)


class ProcessError(RuntimeError):
    """A child process did not start, or died; the message carries the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A started command, its log file and how to stop it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str],
        cwd: Path = REPO,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() reaches its children too
        )

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the log, for error messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise ProcessError if the process has exited."""
        code = self.proc.poll()
        if code is not None:
            raise ProcessError(
                f"{self.name} exited with status {code}; its log ({self.log_path}):\n"
                f"{self.log_tail()}"
            )

    def wait_for_log(self, pattern: str, timeout: float = STARTUP_TIMEOUT) -> re.Match[str]:
        """Wait until a line of the log matches ``pattern``; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(self.log_text())
            if match:
                return match
            self.check_alive()
            time.sleep(0.1)
        raise ProcessError(
            f"{self.name} did not print {pattern!r} within {timeout:.0f}s; its log:\n"
            f"{self.log_tail()}"
        )

    def wait_for_http(self, url: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until ``url`` answers with any HTTP status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answered, even if not with 2xx
            except OSError:
                time.sleep(0.2)
        raise ProcessError(
            f"{self.name} did not answer {url} within {timeout:.0f}s; its log:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 5.0) -> None:
        """End the process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=grace)
            # Children may remain in the group even when the leader is gone.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        finally:
            self._log.close()


def spawn_mamoru(port: int, log_path: Path, env: Mapping[str, str]) -> ChildProcess:
    """Start ``python -m bot serve`` on ``port`` with exactly ``env``; returns at once."""
    return ChildProcess(
        log_path.stem, [sys.executable, "-m", "bot", "serve", "--port", str(port)], log_path, env
    )


def start_mamoru(
    port: int,
    data_dir: Path,
    log_dir: Path,
    *,
    sandbox_port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> ChildProcess:
    """Start ``python -m bot serve`` in anonymous mode and wait until /healthz answers.

    In sandbox mode (the default) Mamoru starts the local Graph service in-process at
    MAMORU_GRAPH_SANDBOX_URL; it always gets a free port here (``sandbox_port`` or one
    picked now), never the default 5280 that `make run` uses. ``env`` adds variables.
    """
    sandbox_port = sandbox_port or free_port()
    env = {
        **os.environ,
        "MAMORU_ALLOW_ANONYMOUS": "true",
        "MAMORU_DATA_DIR": str(data_dir),
        "MAMORU_HOST": "127.0.0.1",
        "MAMORU_GRAPH_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    child = spawn_mamoru(port, log_dir / "mamoru.log", env)
    try:
        child.wait_for_http(f"http://127.0.0.1:{port}/healthz")
    except BaseException:
        child.stop()
        raise
    return child


def start_playground(
    bot_port: int, port: int, log_dir: Path, *, config: Path | None = None, name: str = ""
) -> tuple[ChildProcess, int]:
    """Start the Agents Playground for the bot on ``bot_port``; returns it and its web port.

    The Playground falls back to a random port when ``port`` is taken, so the real
    one is read from its "Listening on <port>" line. ``config``: its YAML configuration
    (the current user, the team; scripts/playground/), else its built-in default.
    ``name`` tells several Playgrounds apart in logs ("staff", "manager").
    """
    if not PLAYGROUND_BIN.exists():
        raise ProcessError(f"{PLAYGROUND_BIN} is missing: run scripts/setup.sh (npm ci)")
    env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",  # never open a browser; the tests drive their own
    }
    # Its working directory may hold a .m365agentsplayground.yml; be explicit either way.
    env.pop("M365_AGENTS_PLAYGROUND_CONFIG_PATH", None)
    if config is not None:
        env["M365_AGENTS_PLAYGROUND_CONFIG_PATH"] = str(config)
    suffix = f"-{name}" if name else ""
    log_dir.mkdir(parents=True, exist_ok=True)
    child = ChildProcess(
        f"agents playground{f' ({name})' if name else ''}",
        [
            str(PLAYGROUND_BIN),
            "--app-endpoint",
            f"http://127.0.0.1:{bot_port}/api/messages",
            "--channel-id",
            "msteams",
            "--port",
            str(port),
            "--disable-telemetry",
        ],
        log_dir / f"playground{suffix}.log",
        env,
        cwd=log_dir,  # it writes devTools/m365agentsplayground.log into its working directory
    )
    try:
        match = child.wait_for_log(r"Listening on (\d+)")
        actual_port = int(match.group(1))
        child.wait_for_http(f"http://127.0.0.1:{actual_port}/")
        # It reads its configuration only after "Listening on": an invalid file makes it
        # exit a moment later with status 1, the reason only in its devTools log.
        deadline = time.monotonic() + CONFIG_GRACE
        while time.monotonic() < deadline:
            child.check_alive()
            time.sleep(0.1)
    except ProcessError as exc:
        child.stop()
        raise ProcessError(f"{exc}\n{_devtools_errors(log_dir)}") from None
    except BaseException:
        child.stop()
        raise
    return child, actual_port


def _devtools_errors(log_dir: Path) -> str:
    """The error lines of the Playground's own log (where it explains a bad config file)."""
    log = log_dir / "devTools" / "m365agentsplayground.log"
    if not log.exists():
        return f"({log} does not exist)"
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("error")]
    return f"its devTools log ({log}):\n" + "\n".join(errors or lines[-20:])
