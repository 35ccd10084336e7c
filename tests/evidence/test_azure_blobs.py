"""The evidence container against Azurite: files, anchors and exports land in Blob Storage.

The same code runs in Azure with the managed identity; here it signs in with Azurite's
development account (``MAMORU_EVIDENCE_CONNECTION_STRING``).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import ContainerClient

from bot.app import build_evidence_storage
from bot.config import Settings
from bot.domain.errors import BlobCorrupted, BlobNotFound
from bot.domain.evidence import ChainAnchor, ChainHead
from bot.evidence.anchors import Anchoring
from bot.evidence.azure_blobs import AzureEvidenceContainer, blob_name
from bot.evidence.export import export_bundle
from bot.evidence.verify import verify_bundle, verify_case
from bot.store.migrate import upgrade
from bot.store.sql import SqlStore
from tests.evidence.conftest import fill_case
from tests.evidence.test_anchors import delete_last_entry
from tests.store.backends import Backend, FakeClock
from tests.store.test_repository import ALICE
from tests.support.azurite import Azurite

pytestmark = pytest.mark.azurite


def settings_for(azurite: Azurite, tmp_path: Path) -> Settings:
    """Settings naming a fresh container in Azurite, as the app reads them."""
    return Settings(
        data_dir=tmp_path,
        evidence_container_url=azurite.new_container_url(),
        evidence_connection_string=azurite.connection_string,
        _env_file=None,
    )


@pytest.fixture
async def container(azurite: Azurite, tmp_path: Path) -> AsyncIterator[AzureEvidenceContainer]:
    """A fresh evidence container, created as the app does at start."""
    evidence = build_evidence_storage(settings_for(azurite, tmp_path))
    assert evidence.container is not None
    await evidence.start()
    yield evidence.container
    await evidence.aclose()


async def names(container: AzureEvidenceContainer) -> list[str]:
    """Every blob name in the container."""
    return [b.name async for b in container._container.list_blobs()]


async def test_files_are_content_addressed_write_once_and_checked(
    container: AzureEvidenceContainer,
) -> None:
    data = b"Received: from mx.example\r\n\r\nbody"
    sha = await container.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert await container.put(data) == sha  # again: no error, nothing replaced
    assert await names(container) == [blob_name(sha)]
    assert await container.exists(sha) and await container.read(sha) == data
    assert b"".join([c async for c in container.chunks(sha)]) == data
    missing = "0" * 64
    assert not await container.exists(missing)
    with pytest.raises(BlobNotFound):
        await container.read(missing)
    # Someone with the account key overwrites the blob: the next read says so.
    await container._container.upload_blob(blob_name(sha), b"changed", overwrite=True)
    with pytest.raises(BlobCorrupted):
        await container.read(sha)


async def test_anchors_sort_newest_first_and_are_never_replaced(
    container: AzureEvidenceContainer,
) -> None:
    case_id = "KH-2026-0007"
    assert await container.latest_anchor(case_id) is None
    clock = FakeClock()
    for count in (1, 12, 3, 100):
        head = ChainHead(count, f"{count:064x}")
        await container.put_anchor(ChainAnchor(case_id, head, clock.now()))
    await container.put_anchor(ChainAnchor("KH-2026-00070", ChainHead(999, "f" * 64), clock.now()))
    latest = await container.latest_anchor(case_id)
    assert latest is not None and latest.head == ChainHead(100, f"{100:064x}")
    await container.put_anchor(ChainAnchor(case_id, ChainHead(100, "e" * 64), clock.now()))
    again = await container.latest_anchor(case_id)
    assert again is not None and again.head.hash == f"{100:064x}"  # the first one stays
    assert all(n.startswith("anchors/") for n in await names(container))


async def test_the_bot_keeps_evidence_anchors_and_exports_in_the_container(
    azurite: Azurite, tmp_path: Path
) -> None:
    settings = settings_for(azurite, tmp_path)
    evidence = build_evidence_storage(settings)
    assert evidence.container is not None
    await evidence.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'mamoru.db'}"
    await upgrade(url)
    clock = FakeClock()
    store = SqlStore.from_url(url, blobs=evidence.blobs, clock=clock)
    backend = Backend("sqlite", store, clock, evidence.blobs)  # type: ignore[arg-type]
    try:
        case_id = await fill_case(backend, mails=3)
        stored = await names(evidence.container)
        assert sum(n.startswith("blobs/") for n in stored) == 5  # 3 mails, 2 screenshots
        assert not (tmp_path / "blobs").exists()  # nothing on the web app's disk

        anchoring = Anchoring(store, evidence.anchors, clock)
        assert (await anchoring.anchor_all()).written == 1
        verified = await verify_case(store, evidence.blobs, case_id, evidence.anchors)
        assert verified.ok and verified.anchor is not None

        out = tmp_path / "bundle.zip"
        await export_bundle(store, evidence.blobs, case_id, out, actor=ALICE, clock=clock)
        name = await evidence.container.put_export(case_id, out)
        assert name == f"exports/{case_id}/bundle.zip"
        copy = tmp_path / "copy.zip"
        downloader = await evidence.container._container.download_blob(name)
        copy.write_bytes(await downloader.readall())
        assert verify_bundle(copy).ok

        await delete_last_entry(backend, case_id)
        result = await verify_case(store, evidence.blobs, case_id, evidence.anchors)
        assert result.problem is not None and "truncation" in result.problem
    finally:
        await store.close()
        await evidence.aclose()


async def test_a_missing_container_is_a_clear_error(azurite: Azurite) -> None:
    client = ContainerClient.from_connection_string(azurite.connection_string, "nowhere")
    container = AzureEvidenceContainer(client)  # Azure: created by the Bicep, not the app
    try:
        with pytest.raises(ResourceNotFoundError, match="ContainerNotFound"):
            await container.put(b"x")
    finally:
        await container.aclose()
