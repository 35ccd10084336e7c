"""Telemetry leaves no message text, mail address or UPN: spans of a turn and a Graph call."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from bot import logs
from bot.config import Settings
from graph.auth import ClientCredentialsTokenProvider
from graph.mailbox import GraphMailboxClient
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import DEMO_ABUSER, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_MAILBOX
from graph.transport import GraphTransport
from tests.teams.conftest import BotUnderTest, start_bot

SECRET_PHRASE = "九条さんが窓口で三時間怒鳴り続けた"
STAFF_NAME = "田中 花子"


@pytest.fixture
def traced() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """aiohttp server and client instrumented into an in-memory exporter, scrubbed."""
    memory = InMemorySpanExporter()
    provider = logs.tracer_provider(memory)
    logs.instrument(provider)
    try:
        yield provider, memory
    finally:
        logs.uninstrument()
        provider.shutdown()


def exported(provider: TracerProvider, memory: InMemorySpanExporter) -> list[ReadableSpan]:
    """Every span the exporter received."""
    provider.force_flush()
    return list(memory.get_finished_spans())


def url_of(span: ReadableSpan) -> str:
    """The span's URL attribute (new or old semantic conventions)."""
    attributes = span.attributes or {}
    return str(attributes.get("url.full") or attributes.get("http.url") or "")


def assert_nothing_personal(spans: list[ReadableSpan], *words: str) -> None:
    """No span (name, attributes, events, status) contains a word or any mail address."""
    for span in spans:
        dumped = span.to_json()
        for word in words:
            assert word not in dumped, (word, dumped)
        assert logs.EMAIL.search(json.dumps(json.loads(dumped), ensure_ascii=False)) is None


async def test_guidance_turn_and_graph_call_spans(
    traced: tuple[TracerProvider, InMemorySpanExporter],
    demo_graph: RunningSandbox,
    tmp_path: Path,
) -> None:
    provider, memory = traced
    settings = Settings(
        allow_anonymous=True, data_dir=tmp_path, graph_sandbox_embedded=False, _env_file=None
    )
    bots: AsyncIterator[BotUnderTest] = start_bot(settings)
    bot = await anext(bots)
    cards = await bot.say(f"{SECRET_PHRASE}。{DEMO_ABUSER} から毎日メールも来ます")
    assert cards
    await bots.aclose()

    tokens = ClientCredentialsTokenProvider(
        demo_graph.token_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    )
    client = GraphMailboxClient(GraphTransport(demo_graph.base_url, tokens))
    pages = [p async for p in client.list_sender_messages(DEMO_MAILBOX, sender=DEMO_ABUSER)]
    message_id = pages[0][0].id
    await client.get_message(DEMO_MAILBOX, message_id)
    await client.transport.aclose()

    spans = exported(provider, memory)
    turn = [s for s in spans if s.kind is SpanKind.SERVER and s.name == "POST /api/messages"]
    assert turn, [s.name for s in spans]
    urls = {url_of(s) for s in spans if s.kind is SpanKind.CLIENT}
    assert f"{demo_graph.base_url}/users/{{user}}/messages" in urls
    assert f"{demo_graph.base_url}/users/{{user}}/messages/{{id}}" in urls
    assert_nothing_personal(
        spans, SECRET_PHRASE, DEMO_ABUSER, DEMO_MAILBOX, STAFF_NAME, message_id, "$filter"
    )


def test_scrub_span_drops_user_ids_exception_text_and_status_description() -> None:
    span = ReadableSpan(
        name="GET /users/tanaka@city.example.jp/messages",
        attributes={
            "user.id": "29:staff-1",
            "activity.channel_id": "msteams",
            "activity.text": SECRET_PHRASE,
            "url.full": "https://graph.microsoft.com/v1.0/users/tanaka@city.example.jp/messages"
            "/AAkALgAA?$filter=from/emailAddress/address eq 'kujou.claims@example.net'",
            "http.target": "/api/messages?user=tanaka@city.example.jp",
            "note": "from kujou.claims@example.net",
        },
        status=Status(StatusCode.ERROR, f"ValueError: {SECRET_PHRASE}"),
        events=[
            Event(
                "exception",
                {
                    "exception.type": "ValueError",
                    "exception.message": SECRET_PHRASE,
                    "exception.stacktrace": f"Traceback ...\nValueError: {SECRET_PHRASE}",
                },
            )
        ],
    )
    clean = logs.scrub_span(span)
    assert clean.name == "GET /users/{user}/messages"
    assert clean.attributes == {
        "activity.channel_id": "msteams",
        "url.full": "https://graph.microsoft.com/v1.0/users/{user}/messages/{id}",
        "http.target": "/api/messages",
        "note": "from [address]",
    }
    assert clean.status.status_code is StatusCode.ERROR and not clean.status.description
    (event,) = clean.events
    assert event.name == "exception" and event.attributes == {"exception.type": "ValueError"}


def test_exported_log_records_lose_exception_text_and_addresses() -> None:
    try:
        raise ValueError(f"{SECRET_PHRASE} tanaka@city.example.jp")
    except ValueError:
        record = logging.LogRecord(
            "bot.x",
            logging.ERROR,
            __file__,
            1,
            "failed for %s",
            ("tanaka@city.example.jp",),
            sys.exc_info(),
        )
    out = logs.RedactForExport().filter(record)
    assert isinstance(out, logging.LogRecord)
    assert out.getMessage() == "failed for [address] [ValueError; message removed]"
    assert out.exc_info is None and record.exc_info is not None  # the console keeps its copy


def test_configure_turns_telemetry_on_only_with_a_connection_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(logs, "configure_telemetry", calls.append)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(environ={})
        assert calls == []
        logs.configure(environ={logs.CONNECTION_STRING_ENV: " InstrumentationKey=x "})
        assert calls == ["InstrumentationKey=x"]
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_configure_telemetry_sets_up_the_scrubbed_pipeline() -> None:
    """The real setup with azure-monitor-opentelemetry, in a process of its own (global state)."""
    script = """
import logging
from aiohttp import web
from opentelemetry import trace
from bot.logs import RedactForExport, ScrubbingSpanExporter, configure
configure(environ={"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey="
    "00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"})
provider = trace.get_tracer_provider()
exporters = [p.span_exporter for p in provider._active_span_processor._span_processors]
assert [type(e) for e in exporters] == [ScrubbingSpanExporter], exporters
console, exported = logging.getLogger().handlers
assert any(isinstance(f, RedactForExport) for f in exported.filters)
assert web.Application.__name__ == "_InstrumentedApplication"
print("configured")
"""
    env = {**os.environ, "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true"}
    env.pop(logs.CONNECTION_STRING_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(logs.__file__).parent.parent,
    )
    assert "configured" in done.stdout, done.stderr
    assert "Overriding of current TracerProvider" not in done.stderr
