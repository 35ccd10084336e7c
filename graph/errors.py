"""Typed errors mapped from Microsoft Graph's ``error.code``.

Graph answers errors as ``{"error": {"code", "message", "innerError": {...}}}``;
callers branch on the class, never on the message. Each class carries a ``hint``
naming what a person should do about it. Messages may contain addresses, so they
are kept on the exception for display but never logged by this package.

Attributes every error has: ``code`` (Graph's ``error.code``), ``status`` (HTTP),
``request_id`` (for Microsoft support), ``retry_after`` (seconds from ``Retry-After``,
or None).

Retrying: ``is_retryable`` is true for ``Throttled`` and ``ServiceUnavailable`` (429,
5xx, dropped connections); the transport retries those within its time budget.
``AccessDenied`` (403) is deliberately **not** retryable here: it is permanent when a
grant is missing, but right after IT assigns Exchange RBAC for Applications roles Graph
answers the same 403 for 30 minutes to 2 hours while the assignment propagates. Graph
cannot tell the two apart, so the decision is the caller's: a job runner may keep an
``AccessDenied`` job waiting ("waiting for permissions") for a bounded window, then fail it
with the hint. ``AccessDenied.mailbox_scoped`` says which kind of grant is missing: True for
Exchange's ``ErrorAccessDenied`` (an RBAC role or the mailbox's scope: the kind that
propagates), False for Entra's ``Authorization_RequestDenied`` (an app role such as
GroupMember.Read.All, effective within minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class GraphError(Exception):
    """Any failure talking to Microsoft Graph."""

    hint: ClassVar[str] = "See the Graph error code and message; re-run to resume."

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        status: int = 0,
        request_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        label = f"{self.code or 'GraphError'} (HTTP {self.status})" if self.status else self.code
        return f"{label}: {self.message}" if label else self.message


class NotFound(GraphError):
    """The item, folder or resource does not exist (any more)."""

    hint = "The item was not found; it may have been moved or deleted by the user."


class MailboxNotFound(NotFound):
    """The user or mailbox does not exist in the tenant (or has no Exchange mailbox)."""

    hint = "Check the mailbox address (UPN) for typos and that the user has an Exchange mailbox."


class FolderExists(GraphError):
    """A folder with that display name already exists under the parent."""

    hint = "The folder exists already; it is looked up and reused."


class BadRequest(GraphError):
    """Graph rejected the request as malformed."""

    hint = "The request was rejected as invalid; check the input values."


class InvalidValue(BadRequest):
    """A property value is invalid (e.g. a folder name too long, a malformed address)."""

    hint = "A value is invalid or too long (folder names: at most 255 characters); shorten it."


class InefficientFilter(BadRequest):
    """``$orderby`` properties must also come first in ``$filter``, in the same order."""

    hint = "Put the $orderby properties first in $filter, in the same order (a client bug)."


class QuotaExceeded(GraphError):
    """The mailbox's rules quota (32-256 KB for all enabled rules) is full."""

    hint = (
        "The mailbox's inbox rules quota is full: ask the user or Exchange admin to delete "
        "or disable unused inbox rules, then re-run."
    )


class AccessDenied(GraphError):
    """The app lacks the permission or is not scoped to this mailbox (see the module doc)."""

    hint = (
        "The app lacks a Graph permission or is not in the mailbox's RBAC for Applications "
        "scope: grant it (see docs/graph.md), then re-run. A new Exchange RBAC assignment "
        "takes 30 minutes to 2 hours to apply."
    )

    @property
    def mailbox_scoped(self) -> bool:
        """Whether Exchange refused it (RBAC role or scope), not Entra (an app role)."""
        return self.code != "Authorization_RequestDenied"


class AuthenticationFailed(GraphError):
    """No valid token: wrong, expired or revoked credentials."""

    hint = (
        "Credentials were rejected (wrong, expired or revoked secret/certificate): create a new "
        "one in Entra ID, update MAMORU_GRAPH_CLIENT_SECRET or the certificate, then re-run."
    )


class Throttled(GraphError):
    """429: too many requests for this app and mailbox."""

    hint = "Graph is throttling this mailbox; wait a few minutes and re-run (it resumes)."


class ServiceUnavailable(GraphError):
    """5xx or a dropped connection: Graph is temporarily unavailable."""

    hint = "Microsoft Graph is unavailable right now; re-run later (it resumes where it stopped)."


class NotSent(GraphError):
    """A non-idempotent request (sendMail) failed in a way that may or may not have sent it."""

    hint = "The mail may or may not have been sent: check Sent Items before sending it again."


# Codes seen from Graph and Exchange Online, mapped to the classes above.
_BY_CODE: dict[str, type[GraphError]] = {
    "ErrorItemNotFound": NotFound,
    "ResourceNotFound": NotFound,
    "Request_ResourceNotFound": NotFound,
    "ErrorInvalidUser": MailboxNotFound,
    "MailboxNotEnabledForRESTAPI": MailboxNotFound,
    "MailboxNotFound": MailboxNotFound,
    "ErrorNonExistentMailbox": MailboxNotFound,
    "ErrorFolderExists": FolderExists,
    "ErrorInvalidPropertyValue": InvalidValue,
    "ErrorInvalidRecipients": InvalidValue,
    "ErrorInvalidIdMalformed": InvalidValue,
    "ErrorPropertyValidationFailure": InvalidValue,
    "InefficientFilter": InefficientFilter,
    "ErrorRulesOverQuota": QuotaExceeded,
    "ErrorRulesQuotaExceeded": QuotaExceeded,
    "ErrorQuotaExceeded": QuotaExceeded,
    "ErrorAccessDenied": AccessDenied,
    "Authorization_RequestDenied": AccessDenied,
    "AccessDenied": AccessDenied,
    "InvalidAuthenticationToken": AuthenticationFailed,
    "invalid_client": AuthenticationFailed,
    "unauthorized_client": AuthenticationFailed,
    "ApplicationThrottled": Throttled,
    "TooManyRequests": Throttled,
    "ErrorTooManyObjectsOpened": Throttled,
    "ServiceUnavailable": ServiceUnavailable,
    "ErrorServerBusy": ServiceUnavailable,
    "BadRequest": BadRequest,
    "Request_BadRequest": BadRequest,
    "RequestBodyRead": BadRequest,
    "ErrorInvalidRequest": BadRequest,
    "ErrorInvalidParameter": BadRequest,
    "Request_UnsupportedQuery": BadRequest,
}


def _by_status(status: int) -> type[GraphError]:
    if status == 401:
        return AuthenticationFailed
    if status == 403:
        return AccessDenied
    if status == 404:
        return NotFound
    if status == 429:
        return Throttled
    if status >= 500:
        return ServiceUnavailable
    if status == 400:
        return BadRequest
    return GraphError


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (Graph may send fractions), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: Graph doesn't send it; treat as absent
    return max(0.0, seconds)


def error_from_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> GraphError:
    """The typed error for a Graph error answer (status, parsed JSON body, headers)."""
    headers = headers or {}
    code, message, request_id = "", f"HTTP {status}", ""
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            code = str(err.get("code") or "")
            message = str(err.get("message") or message)
            inner = err.get("innerError") or err.get("innererror") or {}
            if isinstance(inner, Mapping):
                request_id = str(inner.get("request-id") or "")
        elif isinstance(err, str):  # OAuth2 token endpoint shape
            code = err
            message = str(body.get("error_description") or message)
    cls = _BY_CODE.get(code)
    if cls is None or (status >= 500 and not issubclass(cls, ServiceUnavailable)):
        cls = _by_status(status) if cls is None or status >= 500 else cls
    if status == 401:
        cls = AuthenticationFailed  # whatever the code says, the token was refused
    return cls(
        message,
        code=code,
        status=status,
        request_id=request_id or headers.get("request-id", ""),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


def is_retryable(error: BaseException) -> bool:
    """Whether a retry may succeed (throttling or a transient service failure)."""
    return isinstance(error, Throttled | ServiceUnavailable)
