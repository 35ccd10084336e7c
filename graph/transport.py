"""HTTP transport for Microsoft Graph: one aiohttp session, retries, concurrency, paging, $batch.

Graph's rules it enforces on every call (see docs/graph.md):
- ``Prefer: IdType="ImmutableId"`` on every request, so ids survive moves;
- 429/503/504 are retried with tenacity, honouring a (fractional) ``Retry-After``, for
  as long as ``RetryPolicy.max_total_seconds`` allows (default 600 s: Graph's throttling
  window is 10 minutes, so a budget counted in attempts could give up after seconds);
  a 429 pauses the whole mailbox;
- a listing page that times out (504) is asked again with half the ``$top`` (Graph's
  advice for large pages), down to ``MIN_PAGE``, before ordinary retries take over;
- 403 (``AccessDenied``) is never retried here: it may be permanent (a missing grant) or
  last hours (Exchange RBAC propagation); the caller decides how long to wait;
- at most ``mailbox_concurrency`` (Graph: 4) requests in flight per mailbox;
- ``@odata.nextLink`` is followed exactly as given;
- ``$batch`` of at most 20, retrying only the failed items after the longest Retry-After;
- non-idempotent requests (sendMail) are retried only when Graph refused them (429).
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_before_delay
from yarl import URL

from graph.auth import TokenProvider
from graph.errors import (
    BadRequest,
    GraphError,
    ServiceUnavailable,
    Throttled,
    error_from_response,
    is_retryable,
    parse_retry_after,
)

PREFER_IMMUTABLE = 'IdType="ImmutableId"'
BATCH_LIMIT = 20
RETRYABLE_STATUS = frozenset({429, 503, 504})


def odata_string(value: str) -> str:
    """An OData string literal: quoted, with each ``'`` doubled (``o'brien`` → ``'o''brien'``)."""
    return "'" + value.replace("'", "''") + "'"


def query_string(params: Mapping[str, str | int]) -> str:
    """A fully percent-encoded query (space → %20, ``+`` → %2B, ``'`` → %27); ``$`` kept."""
    return "&".join(f"{quote(k, safe='$')}={quote(str(v), safe='')}" for k, v in params.items())


MIN_PAGE = 50  # the smallest $top a 504 shrinks a page to


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry transient failures: bounded by time first.

    ``max_total_seconds`` is the promise (docs/graph.md, ``MAMORU_GRAPH_RETRY_SECONDS``);
    ``max_attempts`` only guards against a service answering errors instantly forever.
    """

    max_attempts: int = 100
    max_total_seconds: float = 600.0  # covers a full 10-minute throttling window
    backoff_base: float = 0.5
    backoff_max: float = 60.0


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One HTTP request as it left the process (for audits and tests)."""

    method: str
    url: str
    body: Any


@dataclass(frozen=True, slots=True)
class Response:
    """A successful Graph answer."""

    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or bytes when raw was asked for


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request inside a ``$batch`` (url relative to the version root)."""

    id: str
    method: str
    url: str
    body: Any = None


@dataclass(slots=True)
class BatchResult:
    """One answer inside a ``$batch``."""

    id: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return 200 <= self.status < 300

    def error(self) -> GraphError:
        """The typed error of a failed item."""
        return error_from_response(self.status, self.body, self.headers)


class GraphTransport:
    """One aiohttp session to Graph with its retry, concurrency and paging rules."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        retry: RetryPolicy | None = None,
        mailbox_concurrency: int = 4,
        timeout_seconds: float = 100.0,
        on_request: Callable[[SentRequest], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._retry = retry or RetryPolicy()
        self._concurrency = mailbox_concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._on_request = on_request
        self._session: aiohttp.ClientSession | None = None
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._paused_until: dict[str, float] = {}

    async def __aenter__(self) -> GraphTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._retry

    @property
    def session(self) -> aiohttp.ClientSession:
        """The one session (created on first use, inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=100)
            )
        return self._session

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        """Absolute, percent-encoded URL for a path under the version root."""
        if path.startswith(("http://", "https://")):
            return path  # e.g. @odata.nextLink: used exactly as given
        url = self.base_url + "/" + path.lstrip("/")
        return f"{url}?{query_string(params)}" if params else url

    async def request(
        self,
        method: str,
        path: str,
        *,
        mailbox: str | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        idempotent: bool = True,
        raw: bool = False,
        retry_504: bool = True,
    ) -> Response:
        """Send one request with retries; raises a typed ``GraphError`` on failure."""
        url = self.url(path, params)
        key = (mailbox or "").lower()
        policy = self._retry

        def should_retry(exc: BaseException) -> bool:
            if not retry_504 and isinstance(exc, GraphError) and exc.status == 504:
                return False  # the caller asks again differently (a smaller page)
            if idempotent:
                return is_retryable(exc)
            return isinstance(exc, Throttled)  # refused, so certainly not executed

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts)
            | stop_before_delay(policy.max_total_seconds),
            wait=self._wait_seconds,
            retry=retry_if_exception(should_retry),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(method, url, key, json, raw)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _wait_seconds(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, GraphError) and exc.retry_after is not None:
            return float(exc.retry_after)
        ceiling = min(
            self._retry.backoff_max, self._retry.backoff_base * 2 ** (state.attempt_number - 1)
        )
        return float(ceiling) * random.uniform(0.5, 1.0)  # jitter: no retrying in lockstep

    async def _pause_gate(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        while (delay := self._paused_until.get(key, 0.0) - loop.time()) > 0:
            await asyncio.sleep(delay)

    def _slot(self, key: str) -> asyncio.Semaphore:
        if key not in self._slots:
            self._slots[key] = asyncio.Semaphore(self._concurrency)
        return self._slots[key]

    async def _send(self, method: str, url: str, key: str, body: Any, raw: bool) -> Response:
        await self._pause_gate(key)
        async with self._slot(key):
            for refreshed in (False, True):
                token = await self._tokens.token(self.session)
                headers = {"Authorization": f"Bearer {token}", "Prefer": PREFER_IMMUTABLE}
                if self._on_request is not None:
                    self._on_request(SentRequest(method, url, body))
                try:
                    async with self.session.request(
                        method, URL(url, encoded=True), json=body, headers=headers
                    ) as resp:
                        payload = await resp.read()
                        status, resp_headers = resp.status, dict(resp.headers)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    # The request may have been executed; only idempotent calls retry on this.
                    raise ServiceUnavailable(
                        f"connection failed: {type(exc).__name__}", code="ConnectionDropped"
                    ) from exc
                if status == 401 and not refreshed:
                    self._tokens.invalidate()  # maybe just expired: one fresh token, once
                    continue
                break
        if 200 <= status < 300:
            if raw:
                return Response(status, resp_headers, payload)
            return Response(status, resp_headers, jsonlib.loads(payload) if payload else None)
        error = error_from_response(status, _json_or_none(payload), resp_headers)
        if status == 429:
            # Graph throttles per app and mailbox: stop every request to it, not just this one.
            self._pause(key, error.retry_after)
        raise error

    def _pause(self, mailbox: str, seconds: float | None) -> None:
        """Hold every request to ``mailbox`` for ``seconds`` (a Retry-After after a 429)."""
        if not seconds:
            return
        key = mailbox.lower()
        until = asyncio.get_running_loop().time() + seconds
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)

    async def get(
        self,
        path: str,
        *,
        mailbox: str | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """GET and return the JSON body."""
        return (await self.request("GET", path, mailbox=mailbox, params=params)).body

    async def iter_pages(
        self,
        path: str,
        *,
        mailbox: str | None = None,
        params: Mapping[str, str | int] | None = None,
        shrink_on_504: bool = False,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's ``value`` list, following ``@odata.nextLink`` as given.

        With ``shrink_on_504``, a page that times out (504 Gateway Timeout) is asked again at
        once with half its ``$top`` (also inside a next link), down to ``MIN_PAGE``; below that,
        504s are retried like any other transient failure.
        """
        url: str | None = self.url(path, params)
        while url:
            top = _top_of(url) if shrink_on_504 else None
            try:
                resp = await self.request(
                    "GET", url, mailbox=mailbox, retry_504=top is None or top <= MIN_PAGE
                )
            except ServiceUnavailable as exc:
                if exc.status != 504 or top is None or top <= MIN_PAGE:
                    raise
                url = _with_top(url, max(MIN_PAGE, top // 2))
                continue
            body = resp.body or {}
            yield list(body.get("value", []))
            url = body.get("@odata.nextLink")

    async def batch(self, items: Sequence[BatchItem], *, mailbox: str) -> dict[str, BatchResult]:
        """Run items through ``$batch`` (≤20 per call); retry only failed items, then return all."""
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise BadRequest("batch item ids must be unique", code="BadRequest")
        loop = asyncio.get_running_loop()
        started = loop.time()
        results: dict[str, BatchResult] = {}
        pending = list(items)
        for attempt in range(1, self._retry.max_attempts + 1):
            for start in range(0, len(pending), BATCH_LIMIT):
                chunk = pending[start : start + BATCH_LIMIT]
                resp = await self.request(
                    "POST",
                    "/$batch",
                    mailbox=mailbox,
                    json={"requests": [_batch_json(i) for i in chunk]},
                )
                for answer in (resp.body or {}).get("responses", []):
                    result = _batch_result(answer)
                    results[result.id] = result
                    if result.status == 429:
                        # Inside a 200 batch, an item's 429 is still the mailbox throttled:
                        # pause every request to it, as for a plain 429.
                        self._pause(mailbox, parse_retry_after(result.headers.get("Retry-After")))
            failed = [i for i in pending if results[i.id].status in RETRYABLE_STATUS]
            if not failed:
                break
            waits = [parse_retry_after(results[i.id].headers.get("Retry-After")) for i in failed]
            delay = max((w for w in waits if w is not None), default=None)
            if delay is None:
                delay = min(self._retry.backoff_max, self._retry.backoff_base * 2 ** (attempt - 1))
            elapsed = loop.time() - started
            if (
                attempt == self._retry.max_attempts
                or elapsed + delay > self._retry.max_total_seconds
            ):
                break  # give up: the failed items keep their error status for the caller
            await asyncio.sleep(delay)  # the longest Retry-After among the failed items
            pending = failed
        return results


def _top_of(url: str) -> int | None:
    """The ``$top`` of a URL's query, or None."""
    value = URL(url, encoded=True).query.get("$top")
    return int(value) if value and value.isdigit() else None


def _with_top(url: str, top: int) -> str:
    """The URL with its ``$top`` replaced (other query options kept byte for byte)."""
    base, _, query = url.partition("?")
    parts = [p for p in query.split("&") if p and not p.startswith(("$top=", "%24top="))]
    return base + "?" + "&".join([*parts, f"$top={top}"])


def _json_or_none(payload: bytes) -> Any:
    try:
        return jsonlib.loads(payload) if payload else None
    except ValueError:
        return None


def _batch_json(item: BatchItem) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": item.id,
        "method": item.method,
        "url": item.url if item.url.startswith("/") else "/" + item.url,
        "headers": {"Prefer": PREFER_IMMUTABLE},
    }
    if item.body is not None:
        entry["body"] = item.body
        entry["headers"]["Content-Type"] = "application/json"
    return entry


def _batch_result(answer: Mapping[str, Any]) -> BatchResult:
    headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
    body = answer.get("body")
    content_type = headers.get("Content-Type", "application/json")
    if isinstance(body, str) and "json" not in content_type:
        body = base64.b64decode(body)  # Graph base64-encodes non-JSON bodies inside $batch
    return BatchResult(str(answer.get("id")), int(answer.get("status", 0)), headers, body)
