"""Evidence in an Azure Blob container with version-level immutability (WORM).

One container (``MAMORU_EVIDENCE_CONTAINER_URL``, created by deploy/infra/modules/
storage.bicep) holds everything that must outlive the database:

    blobs/ab/cd/<sha256>          evidence files (.eml, screenshots), content-addressed
    anchors/<case>/<n>.json       chain-head anchors (bot/evidence/anchors.py)
    exports/<case>/<file>.zip     every export bundle handed out

Every upload is create-only (``If-None-Match: *``): an existing name is never replaced,
and the container's immutability policy keeps each version for the retention period
even from an identity allowed to write. Reads re-hash the bytes (``BlobCorrupted``).

The web app signs in with its managed identity (Storage Blob Data Contributor on the
container only). ``MAMORU_EVIDENCE_CONNECTION_STRING`` (an account key) is for Azurite,
the local Blob Storage emulator, and development only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import ContainerClient

from bot.domain.errors import BlobCorrupted, BlobNotFound, InvalidEvidence
from bot.domain.evidence import ChainAnchor
from bot.evidence.anchors import ANCHOR_PREFIX, anchor_folder, anchor_name
from bot.evidence.blobs import sha256_hex, validate_sha

log = logging.getLogger(__name__)
BLOB_PREFIX = "blobs/"
EXPORT_PREFIX = "exports/"


def blob_name(sha256: str) -> str:
    """Where the file with this SHA-256 lives in the container."""
    validate_sha(sha256)
    return f"{BLOB_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


class AzureEvidenceContainer:
    """``BlobStore`` and ``AnchorStore`` on one Azure Blob container, plus export copies."""

    def __init__(self, container: ContainerClient, *, create: bool = False) -> None:
        self._container = container
        self._create = create

    @classmethod
    def from_url(cls, url: str, *, client_id: str = "") -> AzureEvidenceContainer:
        """The container at ``url``, signed in as the managed identity ``client_id``.

        Without a client id (a developer's machine), azure-identity's default chain is
        used (Azure CLI login, environment variables...).
        """
        credential: Any
        if client_id:
            from azure.identity.aio import ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=client_id)
        else:
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        return cls(ContainerClient.from_container_url(url, credential=credential))

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container: str, *, create: bool = False
    ) -> AzureEvidenceContainer:
        """The container named ``container`` of the account a connection string names.

        ``create``: make the container at start if missing (Azurite; Azure's comes from
        the Bicep, with its immutability policy).
        """
        client = ContainerClient.from_connection_string(connection_string, container)
        return cls(client, create=create)

    async def ensure_container(self) -> None:
        """Create the container if asked to and missing."""
        if self._create:
            with contextlib.suppress(ResourceExistsError):
                await self._container.create_container()

    async def _upload(self, name: str, data: Any, **kwargs: Any) -> bool:
        """Create ``name``; False if it already exists (never overwritten)."""
        try:
            await self._container.upload_blob(name, data, overwrite=False, **kwargs)
        except ResourceExistsError:
            return False
        return True

    # --- BlobStore

    async def put(self, data: bytes) -> str:
        """Store ``data`` (no-op if present) and return its SHA-256."""
        digest = sha256_hex(data)
        await self._upload(blob_name(digest), data)
        return digest

    async def read(self, sha256: str) -> bytes:
        """The bytes, verified against the name."""
        data = b"".join([chunk async for chunk in self.chunks(sha256)])
        return data

    async def chunks(self, sha256: str) -> AsyncIterator[bytes]:
        """The bytes in chunks; ``BlobCorrupted`` after the last one if they don't match."""
        try:
            downloader = await self._container.download_blob(blob_name(sha256))
        except ResourceNotFoundError:
            raise BlobNotFound(sha256) from None
        digest = hashlib.sha256()
        async for chunk in downloader.chunks():
            digest.update(chunk)
            yield chunk
        if digest.hexdigest() != sha256:
            raise BlobCorrupted(sha256, digest.hexdigest())

    async def exists(self, sha256: str) -> bool:
        """Whether a file with this SHA-256 is stored."""
        return bool(await self._container.get_blob_client(blob_name(sha256)).exists())

    async def check(self, sha256: str) -> None:
        """Raise ``BlobNotFound`` or ``BlobCorrupted`` unless the file is intact."""
        async for _ in self.chunks(sha256):
            pass

    # --- AnchorStore

    async def put_anchor(self, anchor: ChainAnchor) -> None:
        """Write the anchor (an existing one with the same count is kept)."""
        await self._upload(
            ANCHOR_PREFIX + anchor_name(anchor), anchor.to_json(), content_type="application/json"
        )

    async def latest_anchor(self, case_id: str) -> ChainAnchor | None:
        """The case's anchor with the highest count: the first name listed."""
        prefix = f"{ANCHOR_PREFIX}{anchor_folder(case_id)}/"
        async for blob in self._container.list_blobs(name_starts_with=prefix):
            downloader = await self._container.download_blob(blob.name)
            try:
                return ChainAnchor.from_json(await downloader.readall())
            except InvalidEvidence:
                log.error("anchor %s is unreadable", blob.name)
        return None

    # --- exports

    async def put_export(self, case_id: str, path: Path) -> str:
        """Keep a copy of an export bundle; returns its name in the container."""
        name = f"{EXPORT_PREFIX}{anchor_folder(case_id)}/{path.name}"
        with path.open("rb") as handle:
            await self._upload(name, handle, content_type="application/zip")
        return name

    async def aclose(self) -> None:
        """Close the HTTP session (and the credential's)."""
        await self._container.close()
        credential = getattr(self._container, "credential", None)
        close = getattr(credential, "close", None)
        if close is not None:
            await close()
