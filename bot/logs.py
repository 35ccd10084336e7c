"""Logging and telemetry setup: clear startup lines, no message text or personal data anywhere.

The SDK puts exception messages (which may quote a user) and activity text into
some of its records; the filter keeps the exception type and stack frames and
drops the rest.

With ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set, ``configure`` (called by
``mamoru serve``) also sends traces and logs to Application Insights with
``azure-monitor-opentelemetry``. What leaves the process is scrubbed here, in
one place: URLs become route templates (Graph URLs carry mailbox UPNs and
message ids), query strings go (Graph ``$filter``s name senders), user ids and
client addresses go, exception messages and status descriptions go (they may
quote a user), and any mail address left is masked. No request or response body
is ever recorded: only the aiohttp server and client are instrumented, and
neither records bodies.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import traceback
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

_SDK_PREFIX = "microsoft_agents"
_DONE = "_mamoru_redacted"  # set on a record once RedactSdkRecords has rewritten it
# The SDK logs every malformed Activity at ERROR with a traceback before raising; the
# server answers those with a 400 and one WARNING line of its own (bot/server.py), so a
# client sending garbage cannot fill the log with tracebacks.
_SDK_INVALID_ACTIVITY = ("microsoft_agents.activity.activity", "Validation error for Activity")

CONNECTION_STRING_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
EMAIL = re.compile(r"[^\s/@'\"<>(),;:]+@[^\s/@'\"<>(),;:]+\.[A-Za-z0-9-]+")
# Path segments kept as they are; any other becomes {id} ({user} after /users/).
KNOWN_SEGMENTS = frozenset(
    s.lower()
    for s in (
        "v1.0",
        "beta",
        "users",
        "groups",
        "members",
        "memberOf",
        "checkMemberGroups",
        "mailFolders",
        "childFolders",
        "messages",
        "messageRules",
        "events",
        "calendar",
        "sendMail",
        "move",
        "copy",
        "$value",
        "$batch",
        "$count",
        "mailboxSettings",
        "inbox",
        "drafts",
        "sentitems",
        "deleteditems",
        "junkemail",
        "archive",
        "outbox",
        "msgfolderroot",
        "oauth2",
        "v2.0",
        "token",
        ".well-known",
        "openid-configuration",
        "api",
        "healthz",
        "metadata",
        "identity",
    )
)
URL_KEYS = frozenset({"url.full", "http.url"})
PATH_KEYS = frozenset({"url.path", "http.target", "http.route"})
# Who made the request: personal data, never exported.
DROPPED_KEYS = frozenset(
    {
        "user.id",
        "enduser.id",
        "agentic.user_id",
        "agentic.instance_id",
        "client.address",
        "net.peer.ip",
        "http.client_ip",
        "net.sock.peer.addr",
        "user_agent.original",
        "http.user_agent",
        "url.query",
    }
)
# Attribute names that may carry user content (activity text, mail subjects, bodies...).
CONTENT_WORDS = ("text", "body", "message", "content", "subject", "stacktrace")


class RedactSdkRecords(logging.Filter):
    """Replace SDK records that may carry user content with their safe parts.

    Drops the SDK's record of a malformed Activity (the server logs its own, see above).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place (once, whatever the number of handlers); keep it."""
        if not record.name.startswith(_SDK_PREFIX) or getattr(record, _DONE, False):
            return True
        if (record.name, str(record.msg).split(":", 1)[0]) == _SDK_INVALID_ACTIVITY:
            return False
        setattr(record, _DONE, True)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            frames = "".join(traceback.format_tb(tb))
            record.msg = "%s raised %s"
            record.args = (record.name, exc_type.__name__)
            record.exc_info = None
            record.exc_text = "Traceback (message removed):\n" + frames.rstrip()
        elif record.levelno >= logging.WARNING:
            # Keep the template's first words only: SDK warnings interpolate activity text.
            record.msg = str(record.msg).split(":", 1)[0].split("{", 1)[0][:120]
            record.args = ()
        return True


class RedactForExport(logging.Filter):
    """What a log record may say once it leaves the process: no exception text, no address."""

    def filter(self, record: logging.LogRecord) -> logging.LogRecord:
        """A redacted copy of the record (the console's handler keeps the original)."""
        record = copy.copy(record)
        RedactSdkRecords().filter(record)
        message = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            message += f" [{record.exc_info[0].__name__}; message removed]"
        record.msg, record.args = EMAIL.sub("[address]", message), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return record


def route_template(path: str) -> str:
    """A path with its variable parts replaced: ``/users/{user}/messages/{id}``."""
    out: list[str] = []
    previous = ""
    for segment in path.split("/"):
        if not segment or segment.lower() in KNOWN_SEGMENTS or segment.startswith("{"):
            out.append(segment)
        elif previous.lower() == "users":
            out.append("{user}")
        else:
            out.append("{id}")
        previous = segment
    return "/".join(out)


def url_template(url: str) -> str:
    """A URL as scheme, host and route template; no query, fragment or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    origin = f"{parts.scheme}://{host}{port}" if parts.scheme else ""
    return origin + route_template(parts.path)


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes fit for export: URLs templated, personal and content attributes dropped."""
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        lowered = key.lower()
        if key in DROPPED_KEYS or any(word in lowered for word in CONTENT_WORDS):
            continue
        if key in URL_KEYS and isinstance(value, str):
            out[key] = url_template(value)
        elif key in PATH_KEYS and isinstance(value, str):
            out[key] = route_template(value.split("?", 1)[0])
        elif isinstance(value, str):
            out[key] = EMAIL.sub("[address]", value)
        else:
            out[key] = value
    return out


def scrub_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of the span with nothing personal: see the module's docstring."""
    name = EMAIL.sub("[address]", span.name)
    if "/" in name:
        method, _, rest = name.rpartition(" ")
        name = f"{method} {route_template(rest)}".strip()
    events = [
        Event(event.name, scrub_attributes(event.attributes), event.timestamp)
        for event in span.events
    ]
    links = [Link(link.context, scrub_attributes(link.attributes)) for link in span.links]
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=scrub_attributes(span.attributes),
        events=events,
        links=links,
        kind=span.kind,
        status=Status(span.status.status_code),  # the description may quote an exception
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingSpanExporter(SpanExporter):
    """Scrubs every span (``scrub_span``) before handing it to the real exporter."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export the scrubbed copies."""
        return self._inner.export([scrub_span(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the real exporter down."""
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the real exporter."""
        return self._inner.force_flush(timeout_millis)


def tracer_provider(exporter: SpanExporter, **kwargs: Any) -> TracerProvider:
    """A tracer provider whose spans all leave through ``ScrubbingSpanExporter``."""
    provider = TracerProvider(**kwargs)
    provider.add_span_processor(BatchSpanProcessor(ScrubbingSpanExporter(exporter)))
    return provider


def instrument(provider: TracerProvider) -> None:
    """Trace aiohttp: the bot's server (turns on /api/messages) and its client (Graph calls)."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

    AioHttpServerInstrumentor().instrument(tracer_provider=provider)
    AioHttpClientInstrumentor().instrument(
        tracer_provider=provider, url_filter=lambda url: url_template(str(url))
    )


def uninstrument() -> None:
    """Undo ``instrument`` (tests)."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

    AioHttpServerInstrumentor().uninstrument()
    AioHttpClientInstrumentor().uninstrument()


# The distro's own instrumentations: all off (Mamoru instruments aiohttp itself, scrubbed).
_DISTRO_INSTRUMENTATIONS = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "httpx",
    "httpx2",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)


_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"


def configure_telemetry(connection_string: str) -> None:
    """Traces and logs to Application Insights, scrubbed (see the module's docstring)."""
    from azure.monitor.opentelemetry import configure_azure_monitor
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "mamoru")})
    # The distro sets up logs and metrics only: its traces would bypass the scrubbing exporter.
    # It ignores disable_tracing=True and reads the environment instead, so say it there.
    previous = os.environ.get(_TRACES_EXPORTER)
    os.environ[_TRACES_EXPORTER] = "none"
    try:
        configure_azure_monitor(
            connection_string=connection_string,
            resource=resource,
            disable_tracing=True,
            enable_live_metrics=False,  # live metrics would show raw telemetry outside this path
            instrumentation_options={n: {"enabled": False} for n in _DISTRO_INSTRUMENTATIONS},
        )
    finally:
        if previous is None:
            os.environ.pop(_TRACES_EXPORTER, None)
        else:
            os.environ[_TRACES_EXPORTER] = previous
    quiet_libraries()  # again: the distro may have lowered some (its own HTTP requests)
    exporter = AzureMonitorTraceExporter(connection_string=connection_string)
    provider = tracer_provider(exporter, resource=resource)
    trace.set_tracer_provider(provider)
    instrument(provider)
    console = logging.getLogger().handlers[:1]
    for handler in logging.getLogger().handlers:
        if handler not in console:  # the distro's handler: what it exports is redacted
            handler.addFilter(RedactForExport())
    logging.getLogger(__name__).info("telemetry: traces and logs go to Application Insights")


# Libraries whose records below WARNING can carry what must never be logged: SQL with
# its parameters (case text, addresses), HTTP requests with tokens or mailbox names,
# activities. They stay at WARNING whatever MAMORU_LOG_LEVEL says.
QUIET_LIBRARIES = (
    _SDK_PREFIX,
    "aiohttp.access",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
    "alembic",
    "urllib3",
    "msal",
    "azure",
)
LOG_LEVEL_ENV = "MAMORU_LOG_LEVEL"


def quiet_libraries() -> None:
    """Pin the libraries above to WARNING (also when the root logger is at DEBUG)."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: str | None = None, *, environ: Mapping[str, str] | None = None) -> None:
    """Log to stderr with timestamps (libraries at WARNING and above, redacted); telemetry.

    ``level``: Mamoru's own level; default ``MAMORU_LOG_LEVEL``, else INFO. Even at DEBUG
    Mamoru's records name ids, counts and kinds only.
    """
    env = environ if environ is not None else os.environ
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactSdkRecords())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or env.get(LOG_LEVEL_ENV, "") or "INFO").strip().upper())
    quiet_libraries()
    connection_string = env.get(CONNECTION_STRING_ENV, "")
    if connection_string.strip():
        configure_telemetry(connection_string.strip())
