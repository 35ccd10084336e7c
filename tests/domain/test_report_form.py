"""The "report an incident" form: validation with clear, bilingual messages."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.incidents import IncidentType, Person
from bot.domain.report import InvalidReport, parse_report

TODAY = dt.date(2026, 11, 23)
GOOD = {
    "submission_id": "0123456789abcdef",
    "type": "mass-email",
    "what_happened": "  毎日100通以上のメールが来ます  ",
    "counterpart": "Troll@Example.JP",
    "started_on": "2026-11-01",
    "physical_threat": "true",
}


def problems(data: dict[str, object], **kw: object) -> dict[str, str]:
    """The problems per field, in Japanese."""
    with pytest.raises(InvalidReport) as info:
        parse_report(data, today=TODAY, **kw)  # type: ignore[arg-type]
    return {p.field: p.ja for p in info.value.problems}


def test_valid_form_becomes_a_draft() -> None:
    form = parse_report(GOOD, today=TODAY)
    assert form.what_happened == "毎日100通以上のメールが来ます"
    draft = form.to_draft(reporter=Person("a", "A"), department="市民課")
    assert draft.type is IncidentType.MASS_EMAIL and draft.physical_threat
    assert draft.counterparts.emails == ("troll@example.jp",)
    assert draft.counterparts.domains == ("example.jp",)
    assert draft.started_on == dt.date(2026, 11, 1)


@pytest.mark.parametrize(
    ("value", "field"),
    [("https://sns.example/u/1", "urls"), ("troll_01", "sns_accounts"), ("@troll", "sns_accounts")],
)
def test_counterpart_is_classified(value: str, field: str) -> None:
    form = parse_report({**GOOD, "counterpart": value}, today=TODAY)
    assert getattr(form.counterparts(), field)


@pytest.mark.parametrize(
    "typed",
    [
        "ｋｕｊｏ＠ｅｘａｍｐｌｅ．ｊｐ",  # full-width, as a Japanese input method writes it
        "九条 太郎 <Kujo@Example.jp>",  # pasted from Outlook's From line
        "mailto:kujo@example.jp?subject=x",
        "kujo@example.jp。",
    ],
)
def test_an_address_is_found_in_what_staff_type_or_paste(typed: str) -> None:
    counterparts = parse_report({**GOOD, "counterpart": typed}, today=TODAY).counterparts()
    assert counterparts.emails == ("kujo@example.jp",)
    assert counterparts.domains == ("example.jp",)


@pytest.mark.parametrize(
    "typed", ["kujo,evil@example.jp", "a b@example.jp", "kujo@example", "kujo@@example.jp"]
)
def test_an_address_mail_protection_could_not_act_on_is_refused(typed: str) -> None:
    assert "counterpart" in problems({**GOOD, "counterpart": typed})


def test_blank_optional_fields_are_none() -> None:
    form = parse_report({**GOOD, "counterpart": "", "started_on": " "}, today=TODAY)
    assert form.counterpart is None and form.started_on is None
    assert form.counterparts().is_empty()


def test_every_bad_field_is_named() -> None:
    found = problems(
        {
            "submission_id": "x",
            "type": "spam",
            "what_happened": "   ",
            "counterpart": "not an address!",
            "started_on": "2030-01-01",
        }
    )
    assert set(found) == {"submission_id", "type", "what_happened", "counterpart", "started_on"}
    assert found["what_happened"] == "何があったかを入力してください。"
    assert "未来" in found["started_on"]
    assert "メールアドレス" in found["counterpart"]


def test_limits() -> None:
    assert "4000文字以内" in problems({**GOOD, "what_happened": "あ" * 4001})["what_happened"]
    assert (
        "100文字以内"
        in problems(GOOD | {"what_happened": "あ" * 101}, max_text=100)["what_happened"]
    )
    assert (
        "500文字以内" in problems({**GOOD, "counterpart": "https://x/" + "a" * 600})["counterpart"]
    )
    assert problems({})["type"] == "種類を入力してください。"


@pytest.mark.parametrize(
    "pasted",
    [
        "kujo\u200b@example.jp",  # a zero-width space, as web pages and PDFs hide them
        "\u200ekujo@example.jp\u200f",  # direction marks around a copied address
        "kujo@example.jp\u202e",  # a right-to-left override after it
        "\ufeff九条 <kujo@exam\u2060ple.jp>",  # a BOM and a word joiner
    ],
)
def test_invisible_characters_copied_with_an_address_are_dropped(pasted: str) -> None:
    form = parse_report({**GOOD, "counterpart": pasted}, today=TODAY)
    assert form.counterpart == "kujo@example.jp"
    assert form.counterparts().emails == ("kujo@example.jp",)
    assert form.counterparts().domains == ("example.jp",)


def test_invisible_characters_copied_with_an_account_are_dropped() -> None:
    form = parse_report({**GOOD, "counterpart": "@troll\u200b_01"}, today=TODAY)
    assert form.counterparts().sns_accounts == ("@troll_01",)


@pytest.mark.parametrize(
    "typed", ["*@gmail.com", "＊@gmail.com", "%@example.jp", "kujo*@example.jp"]
)
def test_a_wildcard_for_a_whole_domain_is_refused_with_what_to_type(typed: str) -> None:
    # No rule may catch everyone at a shared domain from a staff member's report.
    assert "ワイルドカード" in problems({**GOOD, "counterpart": typed})["counterpart"]
