"""Azurite, Microsoft's Blob Storage emulator (npm ``azurite``), started for the tests.

One process per test session on a free loopback port, data in memory (its working
directory is a temporary one, for anything else it writes). Tests that use
it are marked ``azurite``: mandatory when ``CI=true`` (tests/conftest.py), skipped
locally only if ``npm ci`` has not installed it.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

AZURITE = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
# Azurite's fixed development account (published in its documentation; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Azurite:
    """A running emulator."""

    port: int

    @property
    def blob_endpoint(self) -> str:
        """The account's blob endpoint."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        """A connection string for the development account."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def new_container_url(self) -> str:
        """A container URL no other test uses (its name is its last segment)."""
        return f"{self.blob_endpoint}/evidence-{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log.read_text(errors="replace")[-500:]
            raise RuntimeError(f"Azurite exited with status {process.returncode}: {error}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Azurite did not listen on port {port} within {timeout:.0f} s")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's blob service for this test session."""
    if not AZURITE.exists():
        pytest.skip("Azurite is not installed: run scripts/setup.sh (npm ci)")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as workspace:
        log = Path(workspace) / "azurite.log"
        output = log.open("wb")
        process = subprocess.Popen(
            [
                str(AZURITE),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=workspace,
        )
        try:
            _wait(port, process, log)
            yield Azurite(port)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            output.close()
