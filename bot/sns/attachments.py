"""Downloading the screenshots a staff member pasted or attached in the personal chat.

Only the ``contentUrl`` Teams put in the activity is fetched, and only when its host
is the Bot Connector's (the activity's ``serviceUrl``) or one configured explicitly:
a URL pasted in the text is never fetched. No redirects are followed (they could
lead anywhere). The bot's own token is sent when it has one; a local run (Agents
Playground) has none and the Playground serves attachments from its own host.
Images only (checked by the response type *and* the file's full signature), up to a
size limit read as a stream. An image inlined as a ``data:`` URL is decoded, not fetched.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bot.domain.errors import DomainError

log = logging.getLogger(__name__)
TokenSource = Callable[[], Awaitable[str | None]]

# Refusal reasons (shown to the user through cards/i18n "sns.refused.<reason>").
HOST = "host"
TOO_LARGE = "too-large"
NOT_IMAGE = "not-image"
REFUSED = "connector-refused"
UNREACHABLE = "unreachable"

_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
}


class AttachmentRefused(DomainError):
    """An attachment was not downloaded or not accepted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"attachment refused: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IncomingAttachment:
    """An attachment as Teams described it in the activity."""

    content_type: str
    content_url: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Downloaded:
    """An image downloaded from the connector: its bytes and sniffed media type."""

    data: bytes
    media_type: str

    @property
    def extension(self) -> str:
        """A file extension for the media type."""
        return _EXTENSIONS.get(self.media_type, "img")


# Enough of a file's start to check every signature below in full.
SIGNATURE_BYTES = 32
_JPEG_MARKERS = frozenset({0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xFE, *range(0xE0, 0xF0)})
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")


def sniff_image(head: bytes) -> str | None:
    """The image media type of a file starting with ``head``, or None if not an image.

    Each format's whole signature is checked, not just its first bytes: PNG's 8-byte
    signature followed by its IHDR chunk; JPEG's start-of-image followed by a real
    marker; GIF87a/GIF89a; RIFF/WEBP with a VP8 chunk; BMP's "BM" with zero reserved
    fields and a known header size (two letters alone would let text files through).
    """
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[8:16] == b"\x00\x00\x00\x0dIHDR":
        return "image/png"
    if head[:3] == b"\xff\xd8\xff" and len(head) > 3 and head[3] in _JPEG_MARKERS:
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 13:
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in _WEBP_CHUNKS:
        return "image/webp"
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and head[6:10] == b"\x00\x00\x00\x00"
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    ):
        return "image/bmp"
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


class AttachmentFetcher:
    """Fetches attachment bytes from the Bot Connector's host only, images only, bounded."""

    def __init__(
        self,
        *,
        max_bytes: int,
        token: TokenSource,
        extra_origins: frozenset[str] = frozenset(),
        timeout_seconds: float = 20.0,
    ) -> None:
        self._max_bytes = max_bytes
        self._token = token
        self._extra = frozenset(_origin(o) for o in extra_origins)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    @property
    def max_bytes(self) -> int:
        """The size limit of one image."""
        return self._max_bytes

    def allowed(self, content_url: str, service_url: str) -> bool:
        """Whether ``content_url`` is on the connector's origin (or a configured one)."""
        origin = _origin(content_url)
        if urlsplit(content_url).scheme.lower() not in ("http", "https"):
            return False
        return origin == _origin(service_url) or origin in self._extra

    async def fetch(self, attachment: IncomingAttachment, service_url: str) -> Downloaded:
        """The image behind ``attachment``; raises ``AttachmentRefused``."""
        declared = attachment.content_type.lower()
        if not declared.startswith("image/"):
            raise AttachmentRefused(NOT_IMAGE)
        if attachment.content_url.startswith("data:"):
            return self._inline(attachment.content_url)
        if not self.allowed(attachment.content_url, service_url):
            raise AttachmentRefused(HOST)
        headers = {}
        token = await self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        session = self._session or aiohttp.ClientSession(timeout=self._timeout)
        self._session = session
        try:
            async with session.get(
                attachment.content_url, headers=headers, allow_redirects=False
            ) as response:
                if response.status != 200:
                    log.info("attachment download refused by the connector: %s", response.status)
                    raise AttachmentRefused(REFUSED)
                if not response.content_type.lower().startswith("image/"):
                    raise AttachmentRefused(NOT_IMAGE)
                if (response.content_length or 0) > self._max_bytes:
                    raise AttachmentRefused(TOO_LARGE)
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > self._max_bytes:
                        raise AttachmentRefused(TOO_LARGE)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("attachment download failed: %s", type(exc).__name__)
            raise AttachmentRefused(UNREACHABLE) from exc
        media_type = sniff_image(bytes(data[:SIGNATURE_BYTES]))
        if media_type is None:
            raise AttachmentRefused(NOT_IMAGE)
        return Downloaded(bytes(data), media_type)

    def _inline(self, url: str) -> Downloaded:
        """An image sent inline as a ``data:`` URL (some local clients do): nothing fetched."""
        header, sep, payload = url.partition(",")
        if not sep or not header.endswith(";base64"):
            raise AttachmentRefused(NOT_IMAGE)
        if len(payload) * 3 // 4 > self._max_bytes:
            raise AttachmentRefused(TOO_LARGE)
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise AttachmentRefused(NOT_IMAGE) from None
        media_type = sniff_image(data[:SIGNATURE_BYTES])
        if media_type is None:
            raise AttachmentRefused(NOT_IMAGE)
        return Downloaded(data, media_type)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
