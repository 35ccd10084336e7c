"""Validation of what IT types (addresses, domains, case ids, mailboxes); error translation."""

from __future__ import annotations

import pytest

from bot.domain.mailbox import (
    FOLDER_NAME_MAX,
    InvalidMailTarget,
    MailboxAccessDenied,
    MailboxCredentialsRejected,
    MailboxError,
    MailboxInvalidValue,
    MailboxNotFoundError,
    MailboxUnavailable,
    RulesQuotaFull,
    parse_sender,
    validate_case_id,
    validate_mailbox,
)
from bot.mail.graph_mailbox import translate
from bot.mail.protect import default_case_id
from graph import errors


@pytest.mark.parametrize(
    "address",
    ["o'brien+x@example.com", "山田.太郎@例え.jp", "a@b.example", "UPPER@Example.COM", 'q"t@x.jp'],
)
def test_valid_addresses(address: str) -> None:
    assert parse_sender(address=address).address == address


@pytest.mark.parametrize(
    "address",
    [
        "x' or 1 eq 1",
        "no-at-sign",
        "@example.com",
        "a@",
        "a b@example.com",
        "a@localhost",
        "a@exa mple.com",
        "a\n@example.com",
        "a@-bad.example",
        "x" * 65 + "@example.com",
        "kujo\u200b@example.com",  # zero-width space: no mail is ever sent from it
        "kujo@example.com\u202e",  # a right-to-left override
    ],
)
def test_invalid_addresses(address: str) -> None:
    with pytest.raises(InvalidMailTarget):
        parse_sender(address=address)


def test_domains() -> None:
    assert parse_sender(domain="@Bad.Example").domain == "bad.example"
    assert parse_sender(domain="例え.jp").domain == "例え.jp"
    for bad in ("example", "bad domain.com", "a@b.com", "", "exa\u200dmple.com", "\ufeffx.jp"):
        with pytest.raises(InvalidMailTarget):
            parse_sender(domain=bad)
    with pytest.raises(InvalidMailTarget):
        parse_sender()


def test_case_ids() -> None:
    assert validate_case_id("KH-2026-0001") == "KH-2026-0001"
    assert validate_case_id("件" * FOLDER_NAME_MAX) == "件" * FOLDER_NAME_MAX
    for bad in ("", "x" * (FOLDER_NAME_MAX + 1), "a/b", "a\\b", "..", "a\x00"):
        with pytest.raises(InvalidMailTarget):
            validate_case_id(bad)


def test_mailbox_upn() -> None:
    assert validate_mailbox(" tanaka@city.example.jp ") == "tanaka@city.example.jp"
    with pytest.raises(InvalidMailTarget):
        validate_mailbox("tanaka")


def test_default_case_id_is_stable() -> None:
    one = default_case_id("Tanaka@city.example.jp", parse_sender(address="A@x.example"))
    two = default_case_id("tanaka@city.example.jp", parse_sender(address="a@x.example"))
    assert one == two and one.startswith("MAIL-")
    assert one != default_case_id("tanaka@city.example.jp", parse_sender(domain="x.example"))


@pytest.mark.parametrize(
    ("graph_error", "domain_error"),
    [
        (errors.MailboxNotFound, MailboxNotFoundError),
        (errors.QuotaExceeded, RulesQuotaFull),
        (errors.AccessDenied, MailboxAccessDenied),
        (errors.AuthenticationFailed, MailboxCredentialsRejected),
        (errors.InvalidValue, MailboxInvalidValue),
        (errors.Throttled, MailboxUnavailable),
        (errors.ServiceUnavailable, MailboxUnavailable),
        (errors.NotFound, MailboxError),
    ],
)
def test_translation_keeps_no_message_text(
    graph_error: type[errors.GraphError], domain_error: type[MailboxError]
) -> None:
    exc = graph_error("user 'tanaka@city.example.jp' is invalid", code="C", request_id="r")
    out = translate(exc)
    assert type(out) is domain_error
    assert "tanaka" not in str(out) and out.request_id == "r" and out.hint
