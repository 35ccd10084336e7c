"""The shipped playbooks: valid, bilingual, legally current; broken files fail loudly."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.playbooks import LegalBasis, Playbook, PlaybookLibrary, Text
from bot.playbooks import SHIPPED_DIR, PlaybookFileError, load_library, load_playbook

EXPECTED_IDS = {
    "sns-defamation",
    "mass-email",
    "personal-fixation",
    "urgent-safety",
    "general-first-response",
}
OUTDATED_PENALTIES = ("懲役", "禁錮")  # unified into 拘禁刑 on 2025-06-01
OLD_LAW_NAMES = ("プロバイダ責任制限法", "プロバイダー責任制限法", "Provider Liability")
RENAMED_MARKERS = ("改称", "改名", "名称変更", "renamed", "情報流通プラットフォーム対処法")
REVIEWED_ON = dt.date(2026, 11, 23)  # the first review of the shipped legal texts
LATEST_REVIEW = dt.date(2026, 12, 31)  # a review date past this one is a typo
MAIL_PLAYBOOKS = {"mass-email", "personal-fixation", "sns-defamation"}


def _shipped_files() -> list[Path]:
    return sorted(SHIPPED_DIR.glob("*.yaml"))


def _texts(node: Any) -> list[str]:
    """Every string inside a playbook dump."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _texts(value)]
    if isinstance(node, list):
        return [s for value in node for s in _texts(value)]
    return []


def _bilingual(node: Any, path: str = "") -> list[str]:
    """Paths of every mapping that looks like a Text but lacks a language."""
    problems: list[str] = []
    if isinstance(node, dict):
        if {"ja", "en"} & set(node) and not (
            isinstance(node.get("ja"), str)
            and node["ja"].strip()
            and isinstance(node.get("en"), str)
            and node["en"].strip()
        ):
            problems.append(path)
        for key, value in node.items():
            problems += _bilingual(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems += _bilingual(value, f"{path}[{i}]")
    return problems


@pytest.fixture(scope="module")
def library() -> PlaybookLibrary:
    return load_library()


def test_the_three_playbooks_are_shipped_and_valid(library: PlaybookLibrary) -> None:
    assert {p.id for p in library} >= EXPECTED_IDS
    for path in _shipped_files():
        playbook = load_playbook(path)
        assert playbook.id == path.stem


@pytest.mark.parametrize("path", _shipped_files(), ids=lambda p: p.name)
def test_every_text_has_japanese_and_english(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _bilingual(raw) == []
    playbook = load_playbook(path)
    texts: list[Text] = [
        playbook.title,
        playbook.summary,
        *playbook.key_points,
        *playbook.checklist,
        *playbook.do,
        *playbook.dont,
    ]
    for script in playbook.scripts:
        texts += [script.title, script.situation, script.why, *(ln.text for ln in script.lines)]
    for mistake in playbook.mistakes:
        texts += [mistake.title, mistake.why_it_hurts, *(ln.text for ln in mistake.example)]
    for basis in playbook.legal_basis:
        texts += [basis.law, basis.article, basis.summary]
    for text in texts:
        assert text.ja.strip() and text.en.strip()
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text.ja), f"not Japanese: {text.ja}"


@pytest.mark.parametrize("path", _shipped_files(), ids=lambda p: p.name)
def test_playbooks_stay_concise(path: Path) -> None:
    playbook = load_playbook(path)
    for name in ("key_points", "checklist", "do", "dont"):
        assert 4 <= len(getattr(playbook, name)) <= 7, name
    assert 2 <= len(playbook.scripts) <= 4
    assert 2 <= len(playbook.mistakes) <= 3
    assert 2 <= len(playbook.legal_basis) <= 6
    if playbook.id in MAIL_PLAYBOOKS:
        assert any(s.channel.value == "mail" for s in playbook.scripts)
    assert any(s.channel.value in {"phone", "counter"} for s in playbook.scripts)
    assert len(playbook.aliases) >= 3
    size = len(json.dumps(playbook.model_dump(mode="json"), ensure_ascii=False).encode("utf-8"))
    assert size < 40_000


def _legal_bases(library: PlaybookLibrary) -> list[tuple[str, LegalBasis]]:
    return [(p.id, b) for p in library for b in p.legal_basis]


def test_every_legal_basis_is_sourced_and_reviewed(library: PlaybookLibrary) -> None:
    for playbook_id, basis in _legal_bases(library):
        where = f"{playbook_id}/{basis.id}"
        assert basis.source_url.startswith("https://"), where
        assert re.match(
            r"^https://(laws\.e-gov\.go\.jp/law/\w+|[\w.-]*metro\.tokyo\.lg\.jp/)",
            basis.source_url,
        ), where
        assert REVIEWED_ON <= basis.reviewed_on <= LATEST_REVIEW, where
        assert basis.quote_ja.strip(), where


def test_no_quote_uses_the_penalties_abolished_in_2025(library: PlaybookLibrary) -> None:
    for playbook_id, basis in _legal_bases(library):
        for word in OUTDATED_PENALTIES:
            assert word not in basis.quote_ja, f"{playbook_id}/{basis.id} quotes {word}"


def test_penal_code_quotes_use_kokinkei(library: PlaybookLibrary) -> None:
    penal = [b for _, b in _legal_bases(library) if b.law.ja == "刑法"]
    assert penal
    for basis in penal:
        # Article 234 has no penalty of its own: 「前条の例による」 (Article 233's, 拘禁刑).
        assert "拘禁刑" in basis.quote_ja or "前条の例による" in basis.quote_ja, basis.id


def test_the_old_provider_act_name_only_appears_with_its_rename(library: PlaybookLibrary) -> None:
    for playbook in library:
        for text in _texts(playbook.model_dump(mode="json")):
            if any(old in text for old in OLD_LAW_NAMES):
                assert any(marker in text for marker in RENAMED_MARKERS), (
                    f"{playbook.id}: names the old act without its rename: {text}"
                )


def test_the_sender_disclosure_basis_cites_the_current_act(library: PlaybookLibrary) -> None:
    sns = library.get("sns-defamation")
    assert sns is not None
    laws = [b.law.ja for b in sns.legal_basis]
    assert any(
        "特定電気通信による情報の流通によって発生する権利侵害等への対処に関する法律" in law
        for law in laws
    )


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _shipped_data() -> dict[str, Any]:
    data = yaml.safe_load((SHIPPED_DIR / "mass-email.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_missing_language_fails_naming_file_and_field(tmp_path: Path) -> None:
    data = _shipped_data()
    del data["checklist"][1]["en"]
    path = _write(tmp_path, "broken.yaml", data)
    with pytest.raises(PlaybookFileError) as info:
        load_library(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert "checklist.1.en" in message


def test_an_unknown_field_fails_naming_file_and_field(tmp_path: Path) -> None:
    data = _shipped_data()
    data["legal_basis"][0]["penalty"] = "三年以下"
    path = _write(tmp_path, "extra.yaml", data)
    with pytest.raises(PlaybookFileError) as info:
        load_playbook(path)
    assert str(path) in str(info.value)
    assert "legal_basis.0.penalty" in str(info.value)


def test_a_bad_source_url_or_date_fails(tmp_path: Path) -> None:
    data = _shipped_data()
    data["legal_basis"][0]["source_url"] = "http://laws.e-gov.go.jp/law/140AC0000000045"
    data["legal_basis"][1]["reviewed_on"] = "someday"
    path = _write(tmp_path, "legal.yaml", data)
    with pytest.raises(PlaybookFileError) as info:
        load_playbook(path)
    assert "legal_basis.0.source_url" in str(info.value)
    assert "legal_basis.1.reviewed_on" in str(info.value)


def test_old_regex_signals_are_refused(tmp_path: Path) -> None:
    """Routing is the classifier's job now (bot/triage); a stale ``signals`` block is an error."""
    data = _shipped_data()
    data["signals"] = [{"pattern": "メール", "weight": 0.5}]
    path = _write(tmp_path, "signals.yaml", data)
    with pytest.raises(PlaybookFileError) as info:
        load_playbook(path)
    assert "signals" in str(info.value)


def test_invalid_yaml_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbled.yaml"
    path.write_text("id: [unclosed\n  title: x: y\n", encoding="utf-8")
    with pytest.raises(PlaybookFileError) as info:
        load_library(tmp_path)
    assert str(path) in str(info.value)


def test_duplicate_ids_fail(tmp_path: Path) -> None:
    data = _shipped_data()
    _write(tmp_path, "a.yaml", data)
    _write(tmp_path, "b.yaml", data)
    with pytest.raises(PlaybookFileError, match="duplicate playbook ids: mass-email"):
        load_library(tmp_path)


def test_an_empty_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(PlaybookFileError, match="no playbook files"):
        load_library(tmp_path)


def test_playbook_model_round_trips(library: PlaybookLibrary) -> None:
    for playbook in library:
        again = Playbook.model_validate(playbook.model_dump(mode="json"))
        assert again == playbook
