"""The "report an incident" form: the card's submit data, validated at the edge.

``parse_report`` turns raw submit data into a ``ReportForm`` or raises ``InvalidReport``
listing every problem by field, in Japanese and English, so the card can show them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.errors import DomainError
from bot.domain.incidents import Counterparts, IncidentDraft, IncidentType, Person
from bot.domain.mailbox import InvalidMailTarget, parse_sender

MAX_WHAT_HAPPENED = 4000
MAX_COUNTERPART = 500
# "九条 太郎 <kujo@example.jp>" as pasted from Outlook's From line: the part in brackets.
_NAMED_ADDRESS_RE = re.compile(r"^[^<>]*<\s*([^<>\s]+@[^<>\s]+)\s*>$")
_MAILTO = "mailto:"
_TRAILING_PUNCTUATION = "。、.,;:"
_URL_RE = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)
_ACCOUNT_RE = re.compile(r"^@?[\w.-]{1,100}$")
# "*@gmail.com", "%@example.jp": a pattern for everyone at a domain, not one sender's address.
_WILDCARD_ADDRESS_RE = re.compile(r"^[^@\s]*[*?%][^@\s]*@")

Stripped = Annotated[str, StringConstraints(strip_whitespace=True)]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One problem with one form field, in both languages."""

    field: str
    ja: str
    en: str


class InvalidReport(DomainError):
    """The submitted form is incomplete or invalid."""

    def __init__(self, problems: tuple[FieldProblem, ...]) -> None:
        super().__init__("invalid report form: " + ", ".join(p.field for p in problems))
        self.problems = problems


def without_invisible(text: str) -> str:
    """``text`` without Unicode format characters (zero-width spaces, bidi marks, BOM).

    Addresses copied from web pages, PDFs and some mail clients carry them unseen; kept, they
    make an address no mail is ever sent from (an inbox rule that never matches).
    """
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def email_in(text: str) -> str | None:
    """The mail address a staff member typed or pasted, lower-cased; None if it is not one.

    Japanese input methods produce full-width ``ｋｕｊｏ＠ｅｘａｍｐｌｅ.ｊｐ`` (NFKC folds it),
    Outlook's From line gives ``九条 太郎 <kujo@example.jp>``, links give ``mailto:``. What is
    accepted is exactly what mail protection can act on (``parse_sender``), so a case never
    names an address its inbox rule would refuse. URLs (``https://x.com/a@b``) are not
    addresses.
    """
    value = without_invisible(unicodedata.normalize("NFKC", text))
    value = value.strip().rstrip(_TRAILING_PUNCTUATION)
    if match := _NAMED_ADDRESS_RE.match(value):
        value = match.group(1)
    if value.lower().startswith(_MAILTO):
        value = value[len(_MAILTO) :].split("?", 1)[0]
    if "@" not in value or _URL_RE.match(value) or value.startswith("@"):
        return None
    try:
        return (parse_sender(address=value).address or "").lower() or None
    except InvalidMailTarget:
        return None


def _blank_to_none(value: object) -> object:
    # Adaptive Cards send "" for an untouched input; that means "not given".
    return None if isinstance(value, str) and not value.strip() else value


class ReportForm(BaseModel):
    """What the staff member filled in."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # A fresh id put in the card's data when it is sent: a double click submits it twice.
    submission_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    type: IncidentType
    what_happened: Annotated[Stripped, Field(min_length=1, max_length=MAX_WHAT_HAPPENED)]
    counterpart: Annotated[Stripped, Field(max_length=MAX_COUNTERPART)] | None = None
    started_on: dt.date | None = None
    physical_threat: bool = False

    @field_validator("counterpart", "started_on", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("counterpart")
    @classmethod
    def _counterpart_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _WILDCARD_ADDRESS_RE.match(unicodedata.normalize("NFKC", value).strip()):
            raise ValueError("counterpart_wildcard")
        if (address := email_in(value)) is not None:
            return address
        value = without_invisible(value).strip()
        if _URL_RE.match(value) or _ACCOUNT_RE.match(value):
            return value
        raise ValueError("counterpart_shape")

    @field_validator("started_on")
    @classmethod
    def _not_future(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        today = (info.context or {}).get("today") or dt.datetime.now(dt.UTC).date()
        # One day of slack: Japan is ahead of UTC.
        if value is not None and value > today + dt.timedelta(days=1):
            raise ValueError("future_date")
        return value

    @field_validator("what_happened")
    @classmethod
    def _within_limit(cls, value: str, info: ValidationInfo) -> str:
        limit = (info.context or {}).get("max_text", MAX_WHAT_HAPPENED)
        if len(value) > limit:
            raise ValueError(f"too_long:{limit}")
        return value

    def counterparts(self) -> Counterparts:
        """The counterpart field classified as email (+ domain), URL or SNS account."""
        value = self.counterpart
        if not value:
            return Counterparts()
        if (address := email_in(value)) is not None:
            return Counterparts(emails=(address,), domains=(address.rpartition("@")[2],))
        if _URL_RE.match(value):
            return Counterparts(urls=(value,))
        return Counterparts(sns_accounts=(value if value.startswith("@") else f"@{value}",))

    def to_draft(
        self, *, reporter: Person, department: str, targets: tuple[Person, ...] = ()
    ) -> IncidentDraft:
        """The incident draft this form describes."""
        return IncidentDraft(
            type=self.type,
            reporter=reporter,
            department=department,
            summary=self.what_happened,
            targets=targets,
            counterparts=self.counterparts(),
            physical_threat=self.physical_threat,
            started_on=self.started_on,
        )


_LABELS = {
    "submission_id": ("フォーム", "form"),
    "type": ("種類", "type"),
    "what_happened": ("何があったか", "what happened"),
    "counterpart": ("相手のアドレス・URL", "counterpart address / URL"),
    "started_on": ("始まった日", "when it started"),
    "physical_threat": ("身体への危険", "threat of physical harm"),
}


def _problem(field: str, error_type: str, message: str) -> FieldProblem:
    ja_label, en_label = _LABELS.get(field, (field, field))
    if error_type == "missing" or error_type == "string_too_short":
        return FieldProblem(field, f"{ja_label}を入力してください。", f"Please fill in {en_label}.")
    if "too_long" in message or error_type == "string_too_long":
        limit = message.rsplit(":", 1)[-1] if "too_long:" in message else ""
        limit = limit if limit.isdigit() else str(MAX_WHAT_HAPPENED)
        if field == "counterpart":
            limit = str(MAX_COUNTERPART)
        return FieldProblem(
            field,
            f"{ja_label}は{limit}文字以内で入力してください。",
            f"{en_label.capitalize()} must be at most {limit} characters.",
        )
    if "future_date" in message:
        return FieldProblem(
            field, f"{ja_label}に未来の日付は指定できません。", "The date cannot be in the future."
        )
    if "counterpart_wildcard" in message:
        return FieldProblem(
            field,
            "「*」などのワイルドカードは使えません。相手のメールアドレスを1つ、そのまま"
            "入力してください（同じドメインの全員を対象にはできません）。",
            "Wildcards such as * cannot be used: enter the sender's one exact address "
            "(not everyone at a domain).",
        )
    if "counterpart_shape" in message:
        return FieldProblem(
            field,
            "メールアドレス、URL（https://…）、またはSNSのアカウント名を入力してください。",
            "Enter an email address, a URL (https://...) or an SNS account name.",
        )
    if field == "submission_id":
        return FieldProblem(
            field,
            "フォームが古いか壊れています。もう一度開いてください。",
            "The form is outdated or damaged; please open it again.",
        )
    return FieldProblem(
        field, f"{ja_label}の値が正しくありません。", f"{en_label.capitalize()} is not valid."
    )


def parse_report(
    data: Mapping[str, Any], *, max_text: int = MAX_WHAT_HAPPENED, today: dt.date | None = None
) -> ReportForm:
    """Validate raw submit data; raises ``InvalidReport`` naming every bad field."""
    try:
        return ReportForm.model_validate(
            dict(data), context={"max_text": min(max_text, MAX_WHAT_HAPPENED), "today": today}
        )
    except ValidationError as exc:
        problems: dict[str, FieldProblem] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            problems.setdefault(field, _problem(field, error["type"], str(error["msg"])))
        raise InvalidReport(tuple(problems.values())) from None
