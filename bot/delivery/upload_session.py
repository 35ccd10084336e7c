"""Putting a file into a OneDrive upload session, the way Microsoft documents it.

When a person accepts a file consent card, Teams hands the bot an ``uploadUrl``: a
OneDrive for Business upload session in that person's own OneDrive. The bytes go there
with ``PUT`` requests, each carrying ``Content-Range: bytes <first>-<last>/<total>``
and no ``Authorization`` header (the URL itself is the credential; a bearer token
there may get 401). Fragments go in order, each under 60 MiB and, except the last, a
multiple of 320 KiB. The session answers ``202`` with ``nextExpectedRanges`` while it
wants more and ``200``/``201`` with the drive item once the last byte is in; ``404``
means the session is gone, ``416`` that a fragment was already received. A 5xx or a
dropped connection is retried with a back-off after asking the session (``GET``) where
to resume. (learn.microsoft.com: "Upload large files with an upload session".)

Only hosts Microsoft uses for OneDrive for Business (``https://*.sharepoint.com``) are
ever sent bytes, plus origins an operator names explicitly (``MAMORU_UPLOAD_ORIGINS``,
for a local stand-in in tests): never a host an invoke merely claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

FRAGMENT_UNIT = 320 * 1024  # every fragment but the last is a multiple of this
MAX_FRAGMENT = 60 * 1024 * 1024  # OneDrive refuses (or throttles) larger requests
FRAGMENT = 32 * FRAGMENT_UNIT  # 10 MiB: Microsoft's suggested size for a stable link
MICROSOFT_UPLOAD_HOST_SUFFIX = ".sharepoint.com"  # OneDrive for Business, SharePoint
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT = 30.0  # seconds, whatever a Retry-After says
PUT_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=30)


class UploadFailed(Exception):
    """The file did not reach the session; ``reason`` says why, for the person and the log.

    ``host``: the URL is not an allowed upload host; ``gone``: the session no longer exists
    (expired or cancelled); ``refused``: the session refused a fragment (quota, name
    conflict, a malformed request); ``unavailable``: retries ran out (5xx, network).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What went into the session: its size and SHA-256 (read once, while sending)."""

    size: int
    sha256: str


class UploadHosts:
    """Where uploads (and the links Teams gives back) may point."""

    def __init__(self, extra_origins: frozenset[str] = frozenset()) -> None:
        self._extra = frozenset(_origin(URL(o)) for o in extra_origins if o)

    def allows(self, url: str) -> bool:
        """Whether ``url`` is an https OneDrive/SharePoint URL or on an origin set explicitly."""
        try:
            parsed = URL(url)
        except (TypeError, ValueError):
            return False
        if not parsed.host or parsed.user or parsed.password or not parsed.is_absolute():
            return False
        if _origin(parsed) in self._extra:
            return True
        return (
            parsed.scheme == "https"
            and parsed.port == 443
            and parsed.host.endswith(MICROSOFT_UPLOAD_HOST_SUFFIX)
            and len(parsed.host) > len(MICROSOFT_UPLOAD_HOST_SUFFIX)
        )


async def upload_file(
    http: aiohttp.ClientSession,
    upload_url: str,
    path: Path,
    *,
    hosts: UploadHosts,
    fragment: int = FRAGMENT,
    attempts: int = 4,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Uploaded:
    """PUT ``path`` into the upload session at ``upload_url``; ``UploadFailed`` if it can't."""
    if not hosts.allows(upload_url):
        raise UploadFailed("host")
    if fragment <= 0 or fragment % FRAGMENT_UNIT or fragment >= MAX_FRAGMENT:
        raise ValueError("fragments must be a multiple of 320 KiB and under 60 MiB")
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    if size == 0:
        raise ValueError("an upload session cannot take an empty file")
    hasher = hashlib.sha256()
    hashed = 0  # bytes fed to the hash: a resent range is not hashed twice
    offset = 0
    failures = 0
    # Each round sends one fragment or asks where to resume: bounded, whatever the server says.
    for _round in range(size // fragment + 2 * attempts + 4):
        end = min(offset + fragment, size) - 1
        data = await asyncio.to_thread(_read, path, offset, end - offset + 1)
        if offset + len(data) > hashed:
            await asyncio.to_thread(hasher.update, data[hashed - offset :])
            hashed = offset + len(data)
        headers = {"Content-Range": f"bytes {offset}-{end}/{size}"}
        try:
            async with http.put(
                upload_url, data=data, headers=headers, allow_redirects=False, timeout=PUT_TIMEOUT
            ) as response:
                status = response.status
                body = await _json(response)
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, body, retry_after = 0, {}, None
            log.info("upload fragment failed: %s", type(exc).__name__)
        if status in (200, 201):
            if end + 1 != size:
                raise UploadFailed("refused", "the session closed before the last byte")
            return Uploaded(size=size, sha256=hasher.hexdigest())
        if status == 202:
            offset = _checked(_next_offset(body, default=end + 1, size=size), hashed)
            continue
        if status == 404:
            raise UploadFailed("gone")
        if status != 416 and status not in RETRYABLE and status != 0:
            raise UploadFailed("refused", f"status {status}")
        failures += 1
        if failures > attempts:
            raise UploadFailed("unavailable", f"status {status or 'no answer'}")
        await pause(_wait(retry_after, failures))
        offset = _checked(await _resume_offset(http, upload_url, size, default=offset), hashed)
    raise UploadFailed("unavailable", "the session never completed")


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(length)


async def _json(response: aiohttp.ClientResponse) -> dict[str, object]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return body if isinstance(body, dict) else {}


async def _resume_offset(
    http: aiohttp.ClientSession, upload_url: str, size: int, *, default: int
) -> int:
    """Where the session wants the next byte (``GET`` on the session), else ``default``."""
    try:
        async with http.get(upload_url, allow_redirects=False, timeout=PUT_TIMEOUT) as response:
            if response.status == 404:
                raise UploadFailed("gone")
            if response.status != 200:
                return default
            return _next_offset(await _json(response), default=default, size=size)
    except (aiohttp.ClientError, TimeoutError):
        return default


def _next_offset(body: dict[str, object], *, default: int, size: int) -> int:
    """The first byte of the first missing range (``"26-"`` or ``"26-99"``)."""
    ranges = body.get("nextExpectedRanges")
    if isinstance(ranges, list) and ranges and isinstance(ranges[0], str):
        start = ranges[0].partition("-")[0]
        if start.isdigit() and int(start) < size:
            return int(start)
    return default


def _checked(offset: int, sent: int) -> int:
    """``offset`` if the session asks for bytes already read; it cannot have skipped any."""
    if offset > sent:
        raise UploadFailed("refused", "the session asked to skip bytes")
    return offset


def _wait(retry_after: str | None, failures: int) -> float:
    try:
        given = float(retry_after) if retry_after else None
    except ValueError:
        given = None
    return min(given if given is not None else 2.0**failures, MAX_RETRY_WAIT)


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host_port_subcomponent}".lower()


__all__ = ["FRAGMENT", "UploadFailed", "UploadHosts", "Uploaded", "upload_file"]
