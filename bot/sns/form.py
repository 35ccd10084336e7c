"""The capture form's submit data, validated at the edge (pydantic)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.domain.errors import DomainError
from bot.domain.incidents import JST
from bot.domain.report import FieldProblem
from bot.domain.sns import InvalidPostUrl, parse_post_url

MAX_CONTEXT = 2000
Stripped = Annotated[str, StringConstraints(strip_whitespace=True)]

_PROBLEMS: dict[str, FieldProblem] = {
    "case": FieldProblem("case", "記録先の案件を選んでください。", "Choose the case to record on."),
    "account": FieldProblem(
        "account", "投稿したアカウント名を入力してください。", "Enter the posting account's name."
    ),
    "profile_url": FieldProblem(
        "profile_url",
        "プロフィールURLは http:// または https:// で始まるURLを入力してください。",
        "The profile URL must be an http:// or https:// URL.",
    ),
    "posted_date": FieldProblem(
        "posted_date",
        "投稿日が正しくありません（未来の日付は不可）。",
        "The post date is not valid (no future dates).",
    ),
    "posted_time": FieldProblem(
        "posted_time", "投稿時刻は HH:MM で入力してください。", "Enter the post time as HH:MM."
    ),
    "context": FieldProblem(
        "context",
        f"状況は{MAX_CONTEXT}文字以内で入力してください。",
        f"Context must be at most {MAX_CONTEXT} characters.",
    ),
}


class InvalidCapture(DomainError):
    """The capture form is incomplete or invalid."""

    def __init__(self, problems: tuple[FieldProblem, ...]) -> None:
        super().__init__("invalid capture form: " + ", ".join(p.field for p in problems))
        self.problems = problems


def _blank(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class CaptureForm(BaseModel):
    """What the staff member filled in for the captured posts."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case: Annotated[Stripped, StringConstraints(pattern=r"^KH-\d{4}-\d{4,}$")]
    account: Annotated[Stripped, Field(min_length=1, max_length=200)]
    profile_url: str | None = None
    posted_date: dt.date | None = None
    posted_time: dt.time | None = None
    context: Annotated[Stripped, Field(max_length=MAX_CONTEXT)] = ""

    @field_validator("profile_url", "posted_date", "posted_time", mode="before")
    @classmethod
    def _none_if_blank(cls, value: object) -> object:
        return _blank(value)

    @field_validator("profile_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return parse_post_url(value)
        except InvalidPostUrl:
            raise ValueError("profile_url") from None

    @field_validator("posted_date")
    @classmethod
    def _not_future(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value > dt.datetime.now(JST).date() + dt.timedelta(days=1):
            raise ValueError("future")
        return value

    def posted_at(self) -> dt.datetime | None:
        """The post time in Japan time (midnight if only the date is known)."""
        if self.posted_date is None:
            return None
        return dt.datetime.combine(self.posted_date, self.posted_time or dt.time(0, 0), JST)

    def evidence_text(self) -> str:
        """The text kept with each post: the profile URL and the context."""
        lines = [f"profile: {self.profile_url}"] if self.profile_url else []
        if self.context:
            lines.append(self.context)
        return "\n".join(lines)


def parse_capture(data: Mapping[str, Any]) -> CaptureForm:
    """Validate raw submit data; raises ``InvalidCapture`` naming every bad field."""
    try:
        return CaptureForm.model_validate(dict(data))
    except ValidationError as exc:
        fields = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "case"
            if name not in fields:
                fields.append(name)
        raise InvalidCapture(tuple(_PROBLEMS.get(f, _PROBLEMS["case"]) for f in fields)) from None
