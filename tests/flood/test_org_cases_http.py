"""Organisational cases over the card invoke path: confirm, merge, open, take out, export.

Two departments (市民相談課: 田中, 山田, 高橋課長; 税務課: 鈴木, 井上課長) and the legal
section. Three cases name the same address. What a person sees is what the bot answers
to their click; each member's evidence chain must stay its own and verify.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot.domain.evidence import decode
from bot.domain.org_cases import parse_org_note
from bot.evidence.org_bundle import verify_org_bundle
from bot.evidence.verify import verify_bundle, verify_case
from tests.evidence.test_cli import run
from tests.flood.test_linked_cases import ABUSER, OTHER_TANAKA_COLLEAGUE, bot
from tests.support.connector import in_channel
from tests.teams.conftest import BotUnderTest
from tests.teams.test_access_http import (
    KACHO,
    LEGAL,
    SUZUKI,
    TANAKA,
    ZEIMU_CHANNEL,
    ZEIMU_KACHO,
)

YAMADA = OTHER_TANAKA_COLLEAGUE
__all__ = ["bot"]  # the bot of tests/flood/test_linked_cases.py, with the legal section


async def three_cases(bot: BotUnderTest) -> tuple[str, str, str]:
    await bot.say("setup", **in_channel(**KACHO))
    await bot.say("setup", **in_channel(ZEIMU_CHANNEL, **ZEIMU_KACHO))
    for person in (KACHO, ZEIMU_KACHO, LEGAL):
        await bot.say("こんにちは", **person)
    ids = []
    for n, who in enumerate((TANAKA, YAMADA, SUZUKI), 1):
        ids.append(
            await bot.report(
                submission_id=f"sub-org-{n:04d}",
                type="mass-email",
                what_happened="同じ人から毎日大量のメール",
                counterpart=ABUSER,
                **who,
            )
        )
        await bot.run_jobs()
    return ids[0], ids[1], ids[2]


def shown(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def actions(element: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for key in ("actions", "items", "body"):
        for item in element.get(key, []) or []:
            if item.get("type", "").startswith("Action."):
                found.append(item)
            found += actions(item)
    return found


def button(card: dict[str, Any], verb: str) -> dict[str, Any]:
    found = [a for a in actions(card) if a.get("verb") == verb]
    assert found, f"no {verb} button on the card"
    return found[0]


async def chains(bot: BotUnderTest, *case_ids: str) -> dict[str, list[Any]]:
    store = bot.services.persistence.store
    return {c: [e async for e in store.iter_evidence(c)] for c in case_ids}


async def test_a_manager_sees_exactly_what_merges_then_each_chain_records_it(
    bot: BotUnderTest,
) -> None:
    first, second, third = await three_cases(bot)
    before = await chains(bot, first, second, third)

    # The managers' card offers 「組織案件にまとめる」; the click shows the confirmation only.
    _, body, _ = await bot.click("escalation.refresh", {"incident": second}, **KACHO)
    merge = button(body["value"], "cases.merge")
    assert merge["title"] == "組織案件にまとめる"
    _, body, _ = await bot.click("cases.merge", merge["data"], **KACHO)
    confirmation = body["value"]
    text = shown(confirmation)
    assert "組織案件にまとめる（2件）" in text and "新しい組織案件になります" in text
    assert f"{first}（市民相談課" in text and f"{second}（市民相談課" in text
    assert third not in text and "1件は、あなたが対応できない案件" in text
    assert await chains(bot, first, second, third) == before  # nothing merged yet

    go = button(confirmation, "org.merge.confirm")
    assert go["title"] == "この2件をまとめる"
    _, body, _ = await bot.click("org.merge.confirm", go["data"], **KACHO)
    org_id = f"ORG-{first}"
    assert f"{org_id} に 2件をまとめました" in shown(body)

    # The organisational case is a row of its own, with its members.
    org = await bot.services.persistence.org_cases.get_org_case(org_id)
    assert org.members == (second, first) or set(org.members) == {first, second}
    assert org.created_by.display_name == "高橋 課長"
    # Each member's chain got exactly one note appended; nothing before it changed.
    after = await chains(bot, first, second, third)
    for case_id in (first, second):
        assert after[case_id][:-1] == before[case_id]
        note = parse_org_note(decode(after[case_id][-1]).item.text)  # type: ignore[union-attr]
        assert note is not None and note.org_id == org_id and set(note.members) == {first, second}
        assert (
            await verify_case(
                bot.services.persistence.store, bot.services.persistence.blobs, case_id
            )
        ).ok
    assert after[third] == before[third]

    # Clicking the same confirmation again changes nothing.
    _, body, _ = await bot.click("org.merge.confirm", go["data"], **KACHO)
    assert await chains(bot, first, second, third) == after
    # The case card now says so and opens the organisational case.
    _, body, _ = await bot.click("escalation.refresh", {"incident": first}, **KACHO)
    assert f"組織案件 {org_id} にまとめられています（2件" in shown(body)
    opened = button(body["value"], "org.show")
    _, body, _ = await bot.click("org.show", opened["data"], **KACHO)
    card = shown(body)
    assert f"組織案件 {org_id}" in card and "angry@example.co.jp" in card
    assert "構成案件（2件）" in card and "保全したメール（全案件）" in card


async def test_another_departments_manager_can_neither_merge_nor_open_it(
    bot: BotUnderTest,
) -> None:
    first, second, third = await three_cases(bot)
    _, body, _ = await bot.click("cases.merge", {"incident": first}, **KACHO)
    go = button(body["value"], "org.merge.confirm")
    await bot.click("org.merge.confirm", go["data"], **KACHO)
    org_id = f"ORG-{first}"
    before = await chains(bot, first, second, third)
    _, unknown, _ = await bot.click("case.show", {"incident": "KH-2026-0999"}, **ZEIMU_KACHO)
    assert "見つからない" in shown(unknown)

    # 井上課長 (税務課) gets the unknown-case answer for every way in, and nothing changes.
    attempts = [
        ("cases.merge", {"incident": first}),
        ("org.merge.confirm", {"incident": first, "members": f"{first},{second},{third}"}),
        ("org.merge.confirm", go["data"]),
        ("org.show", {"org": org_id}),
        ("org.export", {"org": org_id}),
        ("org.remove", {"org": org_id, "case": first}),
    ]
    for verb, data in attempts:
        status, body, sent = await bot.click(verb, data, **ZEIMU_KACHO)
        assert (status, body) == (200, unknown), verb
        assert not sent, verb
    # From their own case's card they may merge nothing: 市民相談課's cases are not theirs.
    _, body, _ = await bot.click("cases.merge", {"incident": third}, **ZEIMU_KACHO)
    assert "まとめられる案件がありません" in shown(body) and org_id not in shown(body)
    # Staff open the organisational case through their own case, and merge nothing.
    _, body, _ = await bot.click("org.merge.confirm", go["data"], **TANAKA)
    assert "まとめられる案件がありません" in shown(body)
    assert await chains(bot, first, second, third) == before
    org = await bot.services.persistence.org_cases.get_org_case(org_id)
    assert set(org.members) == {first, second}


async def test_legal_merges_across_departments_and_each_viewer_sees_their_part(
    bot: BotUnderTest,
) -> None:
    first, second, third = await three_cases(bot)
    _, body, _ = await bot.click("cases.merge", {"incident": third}, **LEGAL)
    text = shown(body)
    assert "組織案件にまとめる（3件）" in text and "税務課" in text and "市民相談課" in text
    go = button(body["value"], "org.merge.confirm")
    # A confirmation that no longer matches the linked cases merges nothing.
    stale = {**go["data"], "members": f"{first},{third}"}
    _, body, _ = await bot.click("org.merge.confirm", stale, **LEGAL)
    assert "同じ相手の案件が変わりました" in shown(body)
    assert await bot.services.persistence.org_cases.org_cases_of([first]) == {}
    await bot.click("org.merge.confirm", go["data"], **LEGAL)
    org_id = f"ORG-{first}"

    # 高橋課長 sees 市民相談課's two cases and a count for 税務課's; no export for them.
    _, body, _ = await bot.click("org.show", {"org": org_id}, **KACHO)
    card = shown(body)
    assert first in card and second in card and third not in card
    assert "他部署の案件 1件" in card and "鈴木" not in card
    assert not [a for a in actions(body["value"]) if a.get("verb") == "org.export"]
    # 田中 sees their own case and counts only.
    _, body, _ = await bot.click("org.show", {"org": org_id}, **TANAKA)
    card = shown(body)
    assert first in card and second not in card and third not in card
    assert "他部署の案件 1件" in card and "ほかの職員の案件 1件" in card
    assert not [a for a in actions(body["value"]) if a.get("verb") in ("org.remove", "org.export")]

    # 高橋課長 takes 山田's case out: recorded in the chains, the row stays.
    before = await chains(bot, first, second, third)
    remove = {"org": org_id, "case": second}
    _, body, _ = await bot.click("org.remove", remove, **KACHO)
    assert f"{second} を組織案件から外しました" in shown(body)
    # They may not take out 税務課's case: for them it does not exist.
    _, body, _ = await bot.click("org.remove", {"org": org_id, "case": third}, **KACHO)
    assert "見つからない" in shown(body)
    org = await bot.services.persistence.org_cases.get_org_case(org_id)
    assert set(org.members) == {first, third}
    left = [m for m in org.memberships if m.incident_id == second]
    assert left and left[0].left_at is not None and left[0].left_by is not None
    after = await chains(bot, first, second, third)
    for case_id in (first, second, third):
        assert after[case_id][:-1] == before[case_id]
        note = parse_org_note(decode(after[case_id][-1]).item.text)  # type: ignore[union-attr]
        assert (
            note is not None
            and note.action == "removed"
            and set(note.members)
            == {
                first,
                third,
            }
        )


async def merged_and_exported(bot: BotUnderTest, who: dict[str, str], case_id: str) -> str:
    """Merge from ``case_id``'s card as ``who``, then export the combined bundle; its id."""
    _, body, _ = await bot.click("cases.merge", {"incident": case_id}, **who)
    await bot.click("org.merge.confirm", button(body["value"], "org.merge.confirm")["data"], **who)
    org_id = f"ORG-{case_id}"
    _, body, _ = await bot.click("org.show", {"org": org_id}, **who)
    export = button(body["value"], "org.export")
    assert export["title"] == "まとめて証拠一式を作る"
    _, body, _ = await bot.click("org.export", export["data"], **who)
    assert "作成しています" in shown(body)
    bot.connector.clear()
    await bot.run_jobs()
    return org_id


async def test_the_combined_bundle_holds_each_case_bundle_and_verifies(
    bot: BotUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, third = await three_cases(bot)
    org_id = await merged_and_exported(bot, LEGAL, first)
    ready = [c for c in bot.connector.cards() if "証拠一式ができました" in shown(c)]
    assert any(f"{org_id} の証拠一式ができました" in shown(c) for c in ready)

    (bundle,) = (bot.app_data_dir / "exports").glob(f"{org_id}-*.zip")
    result = verify_org_bundle(bundle)
    assert result.ok, result.problem
    assert result.org_case == org_id
    assert sorted(m.case_id for m in result.members) == sorted([first, second, third])
    # Each member bundle, taken out, verifies on its own with the case bundle verifier.
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("org-manifest.json"))
        for member in manifest["members"]:
            out = tmp_path / Path(member["path"]).name
            out.write_bytes(archive.read(member["path"]))
            alone = verify_bundle(out)
            assert alone.ok and alone.case_id == member["case_id"]
            assert alone.head == member["chain"]["head"]
    assert names[-2:] == ["org-manifest.json", "SHA256SUMS"]

    # A member bundle swapped for a different (valid) export is caught by the org manifest.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == f"cases/{second}.zip":
                data = (tmp_path / f"{first}.zip").read_bytes()
            target.writestr(info, data)
    broken = verify_org_bundle(tampered)
    assert (
        broken.problem == f"cases/{second}.zip was changed (SHA-256 differs from org-manifest.json)"
    )

    # `mamoru evidence verify --bundle` recognises a combined bundle and checks each part.
    capsys.readouterr()
    assert run("evidence", "verify", "--bundle", str(bundle)) == 0
    out = capsys.readouterr().out
    assert f"OK: {bundle}: organisational case {org_id}, 3 case bundles" in out
    assert f"  OK: {first}:" in out
    assert run("evidence", "verify", "--bundle", str(tampered)) == 1
    assert "SHA-256 differs from org-manifest.json" in capsys.readouterr().err


async def test_a_combined_bundle_is_handed_out_only_while_every_member_may_be_exported(
    bot: BotUnderTest,
) -> None:
    first, _, third = await three_cases(bot)
    org_id = await merged_and_exported(bot, KACHO, first)
    again = [
        a
        for card in bot.connector.cards()
        if f"{org_id} の証拠一式" in shown(card)
        for a in actions(card)
        if a.get("verb") == "export.link"
    ]
    assert again, "the thread is told, with a button to get the bundle again"
    _, body, _ = await bot.click("export.link", again[0]["data"], **KACHO)
    assert "見つからない" not in shown(body)
    # The legal section adds 税務課's case: 高橋課長 may not export that one, so the
    # combined bundle is no longer handed to them.
    _, body, _ = await bot.click("cases.merge", {"incident": third}, **LEGAL)
    await bot.click(
        "org.merge.confirm", button(body["value"], "org.merge.confirm")["data"], **LEGAL
    )
    assert set(await bot.services.persistence.org_cases.org_cases_of([third])) == {third}
    _, body, _ = await bot.click("export.link", again[0]["data"], **KACHO)
    assert "見つからない" in shown(body) and "#k=" not in shown(body)


async def two_departments_merged(bot: BotUnderTest) -> tuple[list[str], str, str]:
    """Each department merges its own two cases: 市民相談課 (田中, 山田), 税務課 (鈴木 twice)."""
    first, second, third = await three_cases(bot)
    fourth = await bot.report(
        submission_id="sub-org-0004",
        type="mass-email",
        what_happened="同じ人から今度は別の窓口にもメール",
        counterpart=ABUSER,
        **SUZUKI,
    )
    await bot.run_jobs()
    for who, case_id in ((KACHO, first), (ZEIMU_KACHO, third)):
        _, body, _ = await bot.click("cases.merge", {"incident": case_id}, **who)
        assert "組織案件にまとめる（2件）" in shown(body)
        go = button(body["value"], "org.merge.confirm")
        await bot.click("org.merge.confirm", go["data"], **who)
    return [first, second, third, fourth], f"ORG-{first}", f"ORG-{third}"


async def test_two_organisational_cases_merge_as_confirmed_and_the_emptied_one_points_on(
    bot: BotUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    ids, older, younger = await two_departments_merged(bot)
    first, second, third, fourth = ids
    org_cases = bot.services.persistence.org_cases
    assert await org_cases.org_cases_of(ids) == {
        first: older,
        second: older,
        third: younger,
        fourth: younger,
    }
    before = await chains(bot, *ids)

    # Each department's manager sees only their organisational case: no button to merge, and
    # a hand-made click naming the other is "not found", as is one from any other person.
    _, unknown, _ = await bot.click("org.show", {"org": "ORG-KH-2026-0999"}, **KACHO)
    _, body, _ = await bot.click("org.show", {"org": older}, **KACHO)
    assert not [a for a in actions(body["value"]) if a.get("verb") == "org.merge.orgs"]
    for who, data in (
        (KACHO, {"org": older, "other": younger}),
        (ZEIMU_KACHO, {"org": younger, "other": older}),
        (TANAKA, {"org": older, "other": younger}),
        (ZEIMU_KACHO, {"org": older, "other": younger}),
    ):
        for verb in ("org.merge.orgs", "org.merge.orgs.confirm"):
            status, answer, sent = await bot.click(verb, {**data, "members": ",".join(ids)}, **who)
            assert (status, answer, sent) == (200, unknown, []), (who["user_name"], verb)
    assert await chains(bot, *ids) == before

    # The legal section sees the other organisational case on the card, and the button
    # shows which member ends up where; nothing changes before the confirmation's button.
    _, body, _ = await bot.click("org.show", {"org": younger}, **LEGAL)
    offer = button(body["value"], "org.merge.orgs")
    assert offer["title"] == f"組織案件 {older} とまとめる"
    _, body, _ = await bot.click("org.merge.orgs", offer["data"], **LEGAL)
    confirmation = body["value"]
    text = shown(confirmation)
    assert "組織案件をまとめる（4件）" in text
    assert f"組織案件 {younger} の2件を組織案件 {older} に移し" in text
    assert f"{first}（市民相談課" in text and f"{older} の構成案件" in text
    assert f"{third}（税務課" in text and f"{younger} から移ります" in text
    assert f"{younger} は削除せず" in text
    assert await chains(bot, *ids) == before
    go = button(confirmation, "org.merge.orgs.confirm")
    assert go["title"] == f"この4件を {older} にまとめる"

    # One organisational case with itself: nothing to do.
    _, body, _ = await bot.click("org.merge.orgs", {"org": older, "other": older}, **LEGAL)
    assert "まとめられる案件がありません" in shown(body)
    # A confirmation listing other cases than the members now merges nothing.
    stale = {**go["data"], "members": f"{first},{second},{third}"}
    _, body, _ = await bot.click("org.merge.orgs.confirm", stale, **LEGAL)
    assert "同じ相手の案件が変わりました" in shown(body) and "この4件を" in shown(body)
    assert await chains(bot, *ids) == before

    _, body, _ = await bot.click("org.merge.orgs.confirm", go["data"], **LEGAL)
    assert f"組織案件 {younger} を {older} にまとめました（4件）" in shown(body)
    assert await org_cases.org_cases_of(ids) == dict.fromkeys(ids, older)
    after = await chains(bot, *ids)
    store, blobs = bot.services.persistence.store, bot.services.persistence.blobs
    for case_id in ids:
        assert after[case_id][:-1] == before[case_id]
        note = parse_org_note(decode(after[case_id][-1]).item.text)  # type: ignore[union-attr]
        assert note is not None and (note.org_id, note.from_org) == (older, younger)
        assert (await verify_case(store, blobs, case_id)).ok
    # Clicking the confirmation again changes nothing.
    _, body, _ = await bot.click("org.merge.orgs.confirm", go["data"], **LEGAL)
    assert await chains(bot, *ids) == after

    # 井上課長 opens their old organisational case: where its cases went, nothing to act on.
    _, body, _ = await bot.click("org.show", {"org": younger}, **ZEIMU_KACHO)
    card = shown(body)
    assert f"この組織案件は {older} にまとめられました（法務 担当" in card
    assert (
        f"{third}（税務課" in card and f"{older} に移りました" in card and f"{first}（" not in card
    )
    verbs = [a.get("verb") for a in actions(body["value"])]
    assert "org.remove" not in verbs and "org.export" not in verbs
    _, body, _ = await bot.click(
        "org.show", button(body["value"], "org.show")["data"], **ZEIMU_KACHO
    )
    card = shown(body)
    assert f"組織案件 {older}" in card and "構成案件（4件）" in card and "他部署の案件 2件" in card
    assert f"{third}（" in card and f"{first}（" not in card
    # 高橋課長 saw none of the moved cases: the emptied one does not exist for them.
    _, body, _ = await bot.click("org.show", {"org": younger}, **KACHO)
    assert body == unknown
    _, body, _ = await bot.click("org.remove", {"org": younger, "case": third}, **LEGAL)
    assert "見つからない" in shown(body)
    assert await chains(bot, *ids) == after

    # The combined bundle of the merged case holds all four and verifies.
    _, body, _ = await bot.click("org.show", {"org": older}, **LEGAL)
    await bot.click("org.export", button(body["value"], "org.export")["data"], **LEGAL)
    await bot.run_jobs()
    (bundle,) = (bot.app_data_dir / "exports").glob(f"{older}-*.zip")
    result = verify_org_bundle(bundle)
    assert result.ok, result.problem
    assert sorted(m.case_id for m in result.members) == sorted(ids)
    capsys.readouterr()
    assert run("evidence", "verify", "--bundle", str(bundle)) == 0
    assert f"organisational case {older}, 4 case bundles" in capsys.readouterr().out
