"""`mamoru ask`: what a staff member's message gets, printed for IT and developers."""

from __future__ import annotations

import json

import pytest

from bot.cli import main


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("殺すぞと言われました", "身の危険を感じたとき（緊急）"),  # opens with a Container
        ("毎日100通以上メールが届きます", ""),
    ],
)
def test_ask_prints_the_card_title_and_route(
    text: str, title: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAMORU_ALLOW_ANONYMOUS", "true")
    assert main(["ask", text]) == 0
    first, route = capsys.readouterr().out.splitlines()[:2]
    assert first and (title in first)
    assert route.startswith("playbook: ")
    assert main(["ask", "--json", text]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["card"]["type"] == "AdaptiveCard"
