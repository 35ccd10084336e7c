"""Which failures a job waits out, and which end it.

Transient faults (the database connection dropped, a lock held too long, Microsoft
Graph throttling or unavailable, the network, and "access denied" while Exchange is
still propagating a freshly granted permission) put the job back in the queue with a
reason and a time for the next try, without using up an attempt; the job's total
deadline bounds the waiting. Permanent faults (a malformed value, the mailbox does not
exist, refused by policy, the permission window is over) fail the job at once, and a
manager may resume it from the thread's card once the cause is fixed. Anything not
recognised, and a handler's ``RetryableJobError``, is retried a few times, counted,
then fails.

Mail errors arrive as the mail adapter's domain errors (``bot.domain.mailbox``); the
Graph error they were translated from (their ``__cause__``) gives ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from sqlalchemy import exc as sa_exc

from bot.domain.errors import PermanentJobError, RetryableJobError
from bot.domain.jobs import Job
from bot.domain.mailbox import (
    InvalidMailTarget,
    MailboxAccessDenied,
    MailboxCredentialsRejected,
    MailboxError,
    MailboxInvalidValue,
    MailboxNotFoundError,
    MailboxUnavailable,
    RulesQuotaFull,
)
from graph import errors as graph_errors


class FaultKind(StrEnum):
    """How the runner treats a failure."""

    TRANSIENT = "transient"  # wait and try again; attempts are not used up
    PERMANENT = "permanent"  # fail now; a manager may resume once the cause is fixed
    RETRY = "retry"  # unknown, or RetryableJobError: retry a few times (counted), then fail


# Reasons shown on the card ("waiting: <reason>"), keys of cards/i18n "job.wait.*".
PERMISSION_PROPAGATION = "permission-propagation"
GRAPH_THROTTLED = "graph-throttled"
GRAPH_UNAVAILABLE = "graph-unavailable"
DATABASE = "database"
NETWORK = "network"


@dataclass(frozen=True, slots=True)
class Fault:
    """A classified failure: its kind, a short reason code, and Graph's Retry-After."""

    kind: FaultKind
    reason: str
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """Whether the job should wait and try again without using up an attempt."""
        return self.kind is FaultKind.TRANSIENT


_PERMANENT_MAIL: tuple[tuple[type[MailboxError], str], ...] = (
    (MailboxNotFoundError, "mailbox-not-found"),
    (InvalidMailTarget, "invalid-value"),
    (MailboxInvalidValue, "invalid-value"),
    (RulesQuotaFull, "rules-quota-full"),
    (MailboxCredentialsRejected, "credentials-rejected"),
)


def classify(
    error: BaseException, *, job: Job, now: dt.datetime, permission_window: dt.timedelta
) -> Fault:
    """What to do about ``error`` raised by ``job``'s handler at ``now``."""
    if isinstance(error, RetryableJobError):
        return Fault(FaultKind.RETRY, error.code)
    if isinstance(error, PermanentJobError):
        return Fault(FaultKind.PERMANENT, error.code)
    if isinstance(error, MailboxError):
        return _mail_fault(error, job=job, now=now, permission_window=permission_window)
    if _is_database_fault(error):
        return Fault(FaultKind.TRANSIENT, DATABASE)
    if isinstance(error, TimeoutError | ConnectionError):
        return Fault(FaultKind.TRANSIENT, NETWORK)
    return Fault(FaultKind.RETRY, type(error).__name__)


def _mail_fault(
    error: MailboxError, *, job: Job, now: dt.datetime, permission_window: dt.timedelta
) -> Fault:
    cause = error.__cause__
    retry_after = cause.retry_after if isinstance(cause, graph_errors.GraphError) else None
    if isinstance(error, MailboxUnavailable) or (
        cause is not None and graph_errors.is_retryable(cause)
    ):
        throttled = isinstance(cause, graph_errors.Throttled) or error.code in {
            "TooManyRequests",
            "ApplicationThrottled",
        }
        reason = GRAPH_THROTTLED if throttled else GRAPH_UNAVAILABLE
        return Fault(FaultKind.TRANSIENT, reason, retry_after)
    if isinstance(error, MailboxAccessDenied):
        # Exchange RBAC for Applications takes up to hours to apply a new grant: within
        # the window after approval (or resumption), 403 means "not yet", not "never".
        if now < job.window_start + permission_window:
            return Fault(FaultKind.TRANSIENT, PERMISSION_PROPAGATION, retry_after)
        return Fault(FaultKind.PERMANENT, "access-denied")
    for cls, reason in _PERMANENT_MAIL:
        if isinstance(error, cls):
            return Fault(FaultKind.PERMANENT, reason)
    return Fault(FaultKind.PERMANENT, error.code or type(error).__name__)


def _is_database_fault(error: BaseException) -> bool:
    """A dropped connection or a lock wait that ran out: the same statement may succeed later."""
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        original = error.orig
        if original is not None and _is_database_fault(original):
            return True
        # asyncpg's lock_timeout / deadlock / serialization failures come wrapped.
        return getattr(original, "sqlstate", None) in _TRANSIENT_SQLSTATES
    if isinstance(error, sqlite3.OperationalError):
        return "locked" in str(error) or "busy" in str(error)
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return True
    return getattr(error, "sqlstate", None) in _TRANSIENT_SQLSTATES


# lock_not_available, deadlock_detected, serialization_failure, admin/crash shutdown,
# cannot_connect_now, query_canceled (statement_timeout).
_TRANSIENT_SQLSTATES = frozenset({"55P03", "40P01", "40001", "57P01", "57P02", "57P03", "57014"})
