"""A stand-in for the OneDrive for Business upload sessions Teams hands out on file consent.

As strict as Microsoft documents the real thing ("Upload large files with an upload
session"): ``PUT <uploadUrl>`` with ``Content-Range: bytes a-b/total`` and a body of
exactly that many bytes; no ``Authorization`` header (401); fragments in order (a
fragment the session already has is 416, one that skips bytes 400); every fragment under
60 MiB and, except the last, a multiple of 320 KiB (400); the same total in every
request (400). ``202`` with ``nextExpectedRanges`` while bytes are missing, ``201`` with
the drive item when the last byte is in, after which the session is gone (404), as is
an unknown or cancelled one. ``GET <uploadUrl>`` tells where to resume.

``fail_next`` queues answers (e.g. 503) for the next PUTs and ``fail_put`` answers a
given PUT, to test retries; ``puts``
records every PUT (range, whether it carried a token) so tests assert what was sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

UNIT = 320 * 1024
MAX_FRAGMENT = 60 * 1024 * 1024
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@dataclass
class Session:
    """One upload session: the file it becomes and the bytes received so far."""

    name: str
    data: bytearray = field(default_factory=bytearray)
    total: int | None = None
    done: bool = False


@dataclass
class StandInOneDrive:
    """Upload sessions by id, the files they completed, and what the bot sent."""

    base_url: str = ""
    sessions: dict[str, Session] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # completed: name -> bytes
    puts: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # answers for the next PUTs
    fail_put: dict[int, int] = field(default_factory=dict)  # PUT number (from 1) -> answer

    def app(self) -> web.Application:
        """The aiohttp app serving the upload sessions."""
        app = web.Application(client_max_size=MAX_FRAGMENT + 1)
        app.router.add_put("/up/{session}", self._put)
        app.router.add_get("/up/{session}", self._status)
        return app

    def new_session(self, name: str) -> dict[str, str]:
        """A fresh session for ``name``: the ``uploadInfo`` Teams puts in an accept invoke."""
        session_id = uuid.uuid4().hex
        self.sessions[session_id] = Session(name)
        return {
            "name": name,
            "uploadUrl": f"{self.base_url}/up/{session_id}",
            "contentUrl": f"{self.base_url}/personal/user/Documents/Applications/{name}",
            "uniqueId": session_id.upper(),
            "fileType": name.rpartition(".")[2],
            "etag": "1",
        }

    async def _status(self, request: web.Request) -> web.Response:
        session = self._open(request)
        if session is None:
            return _error(404, "itemNotFound")
        return web.json_response({"nextExpectedRanges": [f"{len(session.data)}-"]})

    async def _put(self, request: web.Request) -> web.Response:
        body = await request.read()
        content_range = request.headers.get("Content-Range", "")
        self.puts.append(
            {
                "range": content_range,
                "length": len(body),
                "authorization": "Authorization" in request.headers,
            }
        )
        session = self._open(request)
        if session is None:
            return _error(404, "itemNotFound")
        if "Authorization" in request.headers:
            return _error(401, "unauthenticated")
        fault = self.fail_put.pop(len(self.puts), None)
        if fault is None and self.fail_next:
            fault = self.fail_next.pop(0)
        if fault is not None:
            return _error(fault, "serviceNotAvailable", retry_after="0")
        match = _RANGE.fullmatch(content_range)
        if match is None:
            return _error(400, "invalidRange")
        first, last, total = (int(g) for g in match.groups())
        if last < first or last >= total or len(body) != last - first + 1:
            return _error(400, "invalidRange")
        if request.content_length != len(body):
            return _error(400, "invalidContentLength")
        if session.total is not None and session.total != total:
            return _error(400, "invalidRange")  # the total must be the same in every request
        if len(body) >= MAX_FRAGMENT or (last + 1 != total and len(body) % UNIT):
            return _error(400, "invalidFragmentSize")
        if first < len(session.data):
            return _error(416, "requestedRangeNotSatisfiable")
        if first > len(session.data):
            return _error(400, "fragmentOutOfOrder")
        session.total = total
        session.data.extend(body)
        if len(session.data) < total:
            return web.json_response(
                {
                    "expirationDateTime": "2026-12-02T12:00:00Z",
                    "nextExpectedRanges": [f"{len(session.data)}-"],
                },
                status=202,
            )
        session.done = True
        self.files[session.name] = bytes(session.data)
        item = {"id": uuid.uuid4().hex, "name": session.name, "size": total, "file": {}}
        return web.json_response(item, status=201)

    def _open(self, request: web.Request) -> Session | None:
        session = self.sessions.get(request.match_info["session"])
        return None if session is None or session.done else session


def _error(status: int, code: str, *, retry_after: str | None = None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return web.json_response(
        {"error": {"code": code, "message": code}}, status=status, headers=headers
    )


async def start_onedrive() -> tuple[StandInOneDrive, TestServer]:
    """Start a stand-in OneDrive on a free loopback port."""
    onedrive = StandInOneDrive()
    server = TestServer(onedrive.app(), host="127.0.0.1")
    await server.start_server()
    onedrive.base_url = str(server.make_url("")).rstrip("/")
    return onedrive, server


@pytest.fixture
async def onedrive() -> AsyncIterator[StandInOneDrive]:
    """A running stand-in OneDrive (the tests name its origin in ``upload_origins``)."""
    drive, server = await start_onedrive()
    yield drive
    await server.close()
