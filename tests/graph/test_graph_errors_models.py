"""Error mapping from Graph answers, and the models' refusal of destructive rule actions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graph import errors
from graph.models import FORBIDDEN_RULE_ACTIONS, MessageRule, MessageRuleActions


def body(code: str) -> dict[str, object]:
    return {"error": {"code": code, "message": "m", "innerError": {"request-id": "r-1"}}}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "ErrorItemNotFound", errors.NotFound),
        (404, "ErrorInvalidUser", errors.MailboxNotFound),
        (409, "ErrorFolderExists", errors.FolderExists),
        (400, "ErrorFolderExists", errors.FolderExists),
        (400, "InefficientFilter", errors.InefficientFilter),
        (400, "ErrorRulesOverQuota", errors.QuotaExceeded),
        (400, "ErrorInvalidPropertyValue", errors.InvalidValue),
        (403, "ErrorAccessDenied", errors.AccessDenied),
        (401, "InvalidAuthenticationToken", errors.AuthenticationFailed),
        (401, "SomethingNew", errors.AuthenticationFailed),
        (429, "ApplicationThrottled", errors.Throttled),
        (503, "ServiceUnavailable", errors.ServiceUnavailable),
        (504, "GatewayTimeout", errors.ServiceUnavailable),
        (500, "ErrorInternalServerError", errors.ServiceUnavailable),
        (400, "SomethingNew", errors.BadRequest),
    ],
)
def test_error_code_maps_to_class(status: int, code: str, cls: type[errors.GraphError]) -> None:
    err = errors.error_from_response(status, body(code), {"Retry-After": "1.5"})
    assert type(err) is cls
    assert err.code == code and err.status == status and err.request_id == "r-1"
    assert err.retry_after == 1.5
    assert err.hint


def test_oauth_error_shape_is_authentication_failed() -> None:
    err = errors.error_from_response(
        401, {"error": "invalid_client", "error_description": "AADSTS7000222: expired"}
    )
    assert isinstance(err, errors.AuthenticationFailed)
    assert "7000222" in err.message


def test_retry_after_parsing() -> None:
    assert errors.parse_retry_after("0.25") == 0.25
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert errors.parse_retry_after(None) is None


@pytest.mark.parametrize("action", sorted(FORBIDDEN_RULE_ACTIONS))
def test_rule_actions_cannot_express_destructive_actions(action: str) -> None:
    with pytest.raises(ValidationError):
        MessageRuleActions.model_validate({action: True})


def test_rule_serialises_only_safe_actions() -> None:
    rule = MessageRule.model_validate(
        {
            "displayName": "r",
            "conditions": {"fromAddresses": [{"emailAddress": {"address": "a@b.example"}}]},
            "actions": {"moveToFolder": "F", "markAsRead": True, "stopProcessingRules": True},
        }
    )
    wire = rule.to_graph()
    assert set(wire["actions"]) == {"moveToFolder", "markAsRead", "stopProcessingRules"}
    assert wire["conditions"]["fromAddresses"][0]["emailAddress"]["address"] == "a@b.example"


def test_a_model_read_with_an_empty_id_never_writes_it() -> None:
    from graph.models import EmailAddress, ItemBody, Message, Recipient

    message = Message(
        subject="s",
        body=ItemBody(content="b"),
        to_recipients=[Recipient(email_address=EmailAddress(address="a@example.jp"))],
    )
    assert message.id == ""  # the model's default, as read from a partial answer
    assert "id" not in message.to_graph()  # Graph: ErrorInvalidIdMalformed for "id": ""


def test_access_denied_says_who_refused() -> None:
    from graph.errors import AccessDenied, error_from_response, is_retryable

    exchange = error_from_response(403, {"error": {"code": "ErrorAccessDenied", "message": "x"}})
    entra = error_from_response(
        403, {"error": {"code": "Authorization_RequestDenied", "message": "x"}}
    )
    assert isinstance(exchange, AccessDenied) and isinstance(entra, AccessDenied)
    assert exchange.mailbox_scoped and not entra.mailbox_scoped
    assert not is_retryable(exchange)
