"""A bundle reaches a OneDrive upload session in documented fragments, and nowhere else."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.delivery.upload_session import UploadFailed, UploadHosts, upload_file
from tests.support.onedrive import UNIT, StandInOneDrive


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bundle(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "KH-2026-0001-evidence.zip"
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


async def no_pause(_seconds: float) -> None:
    return None


async def test_fragments_are_in_order_sized_in_320_kib_units_and_carry_no_token(
    tmp_path: Path, onedrive: StandInOneDrive, http: aiohttp.ClientSession
) -> None:
    path = bundle(tmp_path, 2 * UNIT + 1234)
    info = onedrive.new_session(path.name)
    hosts = UploadHosts(frozenset({onedrive.base_url}))
    uploaded = await upload_file(http, info["uploadUrl"], path, hosts=hosts, fragment=UNIT)
    assert onedrive.files[path.name] == path.read_bytes()
    assert uploaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    total = 2 * UNIT + 1234
    assert [p["range"] for p in onedrive.puts] == [
        f"bytes 0-{UNIT - 1}/{total}",
        f"bytes {UNIT}-{2 * UNIT - 1}/{total}",
        f"bytes {2 * UNIT}-{total - 1}/{total}",
    ]
    assert not any(p["authorization"] for p in onedrive.puts)


async def test_a_server_error_is_retried_from_where_the_session_says(
    tmp_path: Path, onedrive: StandInOneDrive, http: aiohttp.ClientSession
) -> None:
    path = bundle(tmp_path, 3 * UNIT)
    info = onedrive.new_session(path.name)
    hosts = UploadHosts(frozenset({onedrive.base_url}))
    onedrive.fail_put = {2: 503}  # the second fragment meets a 503 once
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)

    uploaded = await upload_file(
        http, info["uploadUrl"], path, hosts=hosts, fragment=UNIT, pause=pause
    )
    assert onedrive.files[path.name] == path.read_bytes()
    assert uploaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert waits == [0.0]  # the Retry-After the session gave
    assert len(onedrive.puts) == 4


async def test_retries_run_out_and_a_gone_session_is_said_so(
    tmp_path: Path, onedrive: StandInOneDrive, http: aiohttp.ClientSession
) -> None:
    path = bundle(tmp_path, UNIT)
    hosts = UploadHosts(frozenset({onedrive.base_url}))
    info = onedrive.new_session(path.name)
    onedrive.fail_next = [503] * 10
    with pytest.raises(UploadFailed) as failed:
        await upload_file(http, info["uploadUrl"], path, hosts=hosts, attempts=2, pause=no_pause)
    assert failed.value.reason == "unavailable" and len(onedrive.puts) == 3
    onedrive.fail_next = []
    with pytest.raises(UploadFailed) as failed:
        await upload_file(http, f"{onedrive.base_url}/up/nope", path, hosts=hosts)
    assert failed.value.reason == "gone"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/up/1",
        "http://contoso-my.sharepoint.com/up/1",  # not https
        "https://contoso-my.sharepoint.com.evil.example/up/1",
        "https://user:pw@contoso-my.sharepoint.com/up/1",
        "https://contoso-my.sharepoint.com:8443/up/1",
        "https://.sharepoint.com/up/1",
        "/relative/up/1",
        "not a url",
    ],
)
async def test_bytes_go_only_to_onedrive_hosts(url: str) -> None:
    assert not UploadHosts().allows(url)


async def test_onedrive_and_explicit_origins_are_allowed(
    tmp_path: Path, onedrive: StandInOneDrive, http: aiohttp.ClientSession
) -> None:
    allowed = "https://contoso-my.sharepoint.com/personal/a/_api/v2.0/drive/up?x=1"
    assert UploadHosts().allows(allowed)
    # The stand-in's loopback origin only when named, as an operator would name one.
    path = bundle(tmp_path, 10)
    info = onedrive.new_session(path.name)
    assert not UploadHosts().allows(info["uploadUrl"])
    with pytest.raises(UploadFailed) as failed:
        await upload_file(http, info["uploadUrl"], path, hosts=UploadHosts())
    assert failed.value.reason == "host" and onedrive.puts == []
    with pytest.raises(ValueError):
        await upload_file(
            http,
            info["uploadUrl"],
            path,
            hosts=UploadHosts(frozenset({onedrive.base_url})),
            fragment=UNIT + 1,
        )
