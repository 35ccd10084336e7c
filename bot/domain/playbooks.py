"""Playbooks: the guidance for one kind of harassment, as validated data.

Playbook files (YAML under ``bot/playbooks/``) are parsed into these models at
startup; a broken file stops startup naming the file and the field. Every text
a person reads is a ``Text`` with Japanese and English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.domain.locale import Locale

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,40}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """One text in both languages."""

    ja: NonEmpty
    en: NonEmpty

    def __call__(self, locale: Locale) -> str:
        """The text in ``locale``."""
        return self.ja if locale is Locale.JA else self.en


class Speaker(StrEnum):
    """Who says a line in a script."""

    CUSTOMER = "customer"
    STAFF = "staff"
    NARRATION = "narration"


class Channel(StrEnum):
    """Where an exchange happens."""

    MAIL = "mail"
    PHONE = "phone"
    COUNTER = "counter"
    SNS = "sns"


class Line(_Model):
    """One line of a script."""

    speaker: Speaker
    text: Text


class Script(_Model):
    """A model reply or a phone/counter script: a good example to follow."""

    id: Slug
    title: Text
    channel: Channel
    situation: Text
    lines: list[Line] = Field(min_length=1)
    why: Text


class Mistake(_Model):
    """A common mistake (a bad example) and why it hurts."""

    id: Slug
    title: Text
    example: list[Line] = Field(min_length=1)
    why_it_hurts: Text


class LegalBasis(_Model):
    """A statute or ordinance article the guidance rests on, with its text and source."""

    id: Slug
    law: Text
    article: Text
    quote_ja: NonEmpty  # the article text as enacted (Japanese is authoritative)
    summary: Text  # what it means for this case, in plain words
    source_url: Annotated[str, StringConstraints(pattern=r"^https://")]
    reviewed_on: dt.date


class FollowUp(_Model):
    """A check the case owner is prompted for, some days after the actions were approved."""

    after_days: int = Field(ge=1, le=365)
    text: Text


class Playbook(_Model):
    """Everything Mamoru tells a staff member about one kind of harassment."""

    id: Slug
    title: Text
    summary: Text
    aliases: list[NonEmpty] = Field(default_factory=list)  # typed commands that open it
    key_points: list[Text] = Field(min_length=1)
    checklist: list[Text] = Field(min_length=1)  # what to do now, in order
    do: list[Text] = Field(min_length=1)
    dont: list[Text] = Field(min_length=1)
    scripts: list[Script] = Field(min_length=1)
    mistakes: list[Mistake] = Field(min_length=1)
    legal_basis: list[LegalBasis] = Field(min_length=1)
    follow_ups: list[FollowUp] = Field(default_factory=list)

    def script(self, script_id: str) -> Script | None:
        """The script with ``script_id``, if this playbook has one."""
        return next((s for s in self.scripts if s.id == script_id), None)


class PlaybookLibrary:
    """All playbooks, by id, in a fixed order (the order of the menu)."""

    def __init__(self, playbooks: list[Playbook]) -> None:
        ids = [p.id for p in playbooks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate playbook ids: {', '.join(duplicates)}")
        self._by_id = {p.id: p for p in playbooks}

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, playbook_id: str) -> Playbook | None:
        """The playbook with ``playbook_id``, or None."""
        return self._by_id.get(playbook_id)
