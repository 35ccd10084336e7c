"""Fixtures for SNS cases: the bot over HTTP with a fake connector that serves attachments."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.teams.conftest import BotUnderTest, start_bot

# A 1x1 PNG, and a second one differing in one byte of a chunk the decoder ignores.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_2 = PNG + b"\x00extra"
STAFF = {"user_aad": "aad-staff-1", "user_id": "29:staff-1", "user_name": "田中 花子"}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    """The bot with the shipped playbooks, anonymous (as in a local Playground run)."""
    settings = Settings(
        allow_anonymous=True, data_dir=tmp_path, graph_sandbox_embedded=False, _env_file=None
    )
    async for running in start_bot(settings):
        yield running


async def report_sns_case(bot: BotUnderTest, what: str, submission: str = "sns-case-0001") -> str:
    """Report an SNS case as the staff member; returns its id."""
    return await bot.report(
        submission_id=submission, type="sns-defamation", what_happened=what, **STAFF
    )


def image(bot: BotUnderTest, file_id: str, *, content_type: str = "image/*") -> dict[str, Any]:
    """An attachment as Teams sends a pasted image."""
    return {
        "contentType": content_type,
        "contentUrl": bot.connector.attachment_url(bot.connector_url, file_id),
        "name": f"{file_id}.png",
    }


def texts(card: dict[str, Any]) -> str:
    """Every string in a card, joined (to assert on what the user reads)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.append(node)

    walk(card)
    return "\n".join(found)
