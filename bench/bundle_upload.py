"""Bundle upload benchmark (not a test): a large bundle into a OneDrive upload session.

What a manager's accept costs the bot: ``bot.delivery.upload_session.upload_file`` puts
a bundle of SIZE MiB (default 200) into the stand-in OneDrive upload session
(tests/support/onedrive.py, as strict as the documented one) over loopback, in 10 MiB
fragments. Measured in one run: throughput, and how late a 10 ms ticker on the same event
loop ran at worst while the upload went on (reading and hashing happen in a worker
thread, so other turns keep being answered), next to the same ticker's worst lateness
with the loop idle. Loopback has no network cost: the figure is the bot's own overhead.

    .venv/bin/python bench/bundle_upload.py            # 200 MiB
    .venv/bin/python bench/bundle_upload.py --size 50
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.delivery.upload_session import FRAGMENT, UploadHosts, upload_file  # noqa: E402

TICK = 0.01


async def worst_lateness(stop: asyncio.Event) -> float:
    """How late a 10 ms sleep woke up at worst until ``stop`` is set (seconds)."""
    worst = 0.0
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(TICK)
        worst = max(worst, time.perf_counter() - started - TICK)
    return worst


# The stand-in runs in its own process: its work (and its GIL) is not counted as the bot's.
_STAND_IN = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.onedrive import start_onedrive

async def serve():
    drive, _server = await start_onedrive()
    print(drive.base_url, flush=True)
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        print(drive.new_session(line.strip())["uploadUrl"], flush=True)

asyncio.run(serve())
"""


def start_stand_in() -> subprocess.Popen[str]:
    """The stand-in OneDrive as a child process: it prints its URL, then one upload URL
    per file name written to it."""
    return subprocess.Popen(
        [sys.executable, "-c", _STAND_IN, str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def main(size_mib: int) -> None:
    """Upload one bundle of ``size_mib`` MiB and print the figures."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "KH-2026-0001-evidence.zip"
        chunk = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, incompressible enough
        with path.open("wb") as f:
            for _ in range(size_mib):
                f.write(chunk)
        drive = start_stand_in()
        assert drive.stdin is not None and drive.stdout is not None
        hosts = UploadHosts(frozenset({drive.stdout.readline().strip()}))
        drive.stdin.write(path.name + "\n")
        drive.stdin.flush()
        upload_url = drive.stdout.readline().strip()
        stop = asyncio.Event()
        idle = asyncio.create_task(worst_lateness(stop))
        await asyncio.sleep(1.0)
        stop.set()
        idle_worst = await idle

        stop = asyncio.Event()
        ticker = asyncio.create_task(worst_lateness(stop))
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            uploaded = await upload_file(http, upload_url, path, hosts=hosts)
            seconds = time.perf_counter() - started
        stop.set()
        busy_worst = await ticker
        drive.stdin.close()
        drive.wait(10)
        assert uploaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        fragments = -(-uploaded.size // FRAGMENT)
        print(f"bundle: {size_mib} MiB in {fragments} fragments (the stand-in answered 201)")
        print(f"upload: {seconds:.2f} s, {size_mib / seconds:.0f} MiB/s over loopback")
        print(
            f"event loop, worst lateness of a 10 ms tick: idle {idle_worst * 1000:.1f} ms, "
            f"during the upload {busy_worst * 1000:.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="bundle size in MiB")
    asyncio.run(main(parser.parse_args().size))
