"""Capturing SNS posts from the personal chat, over HTTP: URLs, pasted screenshots, the form."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.domain.evidence import SnsPostItem, decode
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.verify import verify_case
from bot.sns.capture import MAX_PENDING_SHOTS
from cards.elements import plain
from tests.sns.conftest import PNG, PNG_2, STAFF, image, report_sns_case, texts
from tests.teams.conftest import BotUnderTest, start_bot

POST = "https://x.com/someone/status/1234567890"
FORM = {
    "account": "@someone",
    "profile_url": "https://x.com/someone",
    "posted_date": "2026-11-20",
    "posted_time": "21:15",
    "context": "窓口の件の後に投稿",
    "locale": "ja",
}


async def entries(bot: BotUnderTest, case_id: str) -> list[SnsPostItem]:
    store = bot.services.persistence.store
    return [
        item
        async for e in store.iter_evidence(case_id)
        if isinstance(item := decode(e).item, SnsPostItem)
    ]


async def test_url_and_pasted_screenshot_become_evidence(bot: BotUnderTest) -> None:
    case_id = await report_sns_case(bot, "Xで実名と写真を載せられた")
    bot.connector.files["shot1"] = (200, "image/png", PNG)
    (form,) = await bot.say(f"この投稿です {POST}", attachments=[image(bot, "shot1")], **STAFF)
    sha = hashlib.sha256(PNG).hexdigest()
    shown = texts(form)
    assert plain(POST) in shown and sha in shown and "X（旧Twitter）" in shown
    assert bot.connector.downloads == [{"id": "shot1", "authorization": ""}]  # anonymous run

    status, body, _ = await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **STAFF)
    assert status == 200
    result = texts(body["value"])
    assert f"{case_id} に証拠を記録しました" in result and sha in result and "投稿から" in result

    (item,) = await entries(bot, case_id)
    assert item.url == POST and item.platform == "x" and item.account == "@someone"
    assert item.posted_at is not None and item.posted_at.isoformat().startswith("2026-11-20T12:15")
    assert [s.sha256 for s in item.screenshots] == [sha]
    assert "https://x.com/someone" in item.text
    blobs = LocalBlobStore(Path(bot.app_data_dir) / "blobs")
    assert await blobs.read(sha) == PNG
    assert (await verify_case(bot.services.persistence.store, blobs, case_id)).ok


async def test_duplicate_url_is_linked_and_same_screenshot_told(bot: BotUnderTest) -> None:
    case_id = await report_sns_case(bot, "Facebookで名指しされた")
    bot.connector.files["a"] = (200, "image/png", PNG)
    url = "https://www.facebook.com/groups/1/posts/2"
    (form,) = await bot.say(url, attachments=[image(bot, "a"), image(bot, "a")], **STAFF)
    assert "同じスクリーンショットが2回送られました" in texts(form)
    await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **STAFF)

    (form,) = await bot.say(url, attachments=[image(bot, "a")], **STAFF)
    _, body, _ = await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **STAFF)
    shown = texts(body["value"])
    assert "#2 Facebook（記録済みのURL：重複して保存せず" in shown  # #1 is the report
    assert "すでに保存されています" in shown
    assert len(await entries(bot, case_id)) == 1

    # The same URL with a new screenshot: kept pending, not lost, not stored twice.
    bot.connector.files["b"] = (200, "image/png", PNG_2)
    await bot.say(url, attachments=[image(bot, "b")], **STAFF)
    _, body, _ = await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **STAFF)
    assert "新しいスクリーンショットは保持しています" in texts(body["value"])
    (form,) = await bot.say("https://instagram.com/p/xyz", **STAFF)
    assert hashlib.sha256(PNG_2).hexdigest() in texts(form)
    await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **STAFF)
    items = await entries(bot, case_id)
    assert [i.platform for i in items] == ["facebook", "instagram"]
    assert items[1].screenshots[0].sha256 == hashlib.sha256(PNG_2).hexdigest()


async def test_bad_urls_are_refused_and_never_fetched(bot: BotUnderTest) -> None:
    await report_sns_case(bot, "掲示板で中傷された")
    (card,) = await bot.say("javascript:alert(1) と file:///etc/passwd", **STAFF)
    shown = texts(card)
    assert "http:// または https:// で始まるURLだけを記録します" in shown
    assert "保全できるものがありませんでした" in shown
    assert bot.connector.downloads == []


async def test_bad_attachments_are_refused_clearly(bot: BotUnderTest) -> None:
    await report_sns_case(bot, "Xで中傷された")
    elsewhere_hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        elsewhere_hits.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    other_app = web.Application()
    other_app.router.add_get("/{tail:.*}", record)
    other = TestServer(other_app, host="127.0.0.1")
    await other.start_server()
    try:
        bot.connector.files["huge"] = (200, "image/png", PNG + b"\0" * (30 * 1024 * 1024))
        bot.connector.files["pdf"] = (200, "application/pdf", b"%PDF-1.7")
        bot.connector.files["fake"] = (200, "image/png", b"<html>not an image</html>")
        bot.connector.files["gone"] = (403, "application/json", b"{}")
        attachments = [
            image(bot, "huge"),
            image(bot, "pdf"),
            image(bot, "fake"),
            image(bot, "gone"),
            {"contentType": "application/pdf", "contentUrl": "x", "name": "doc.pdf"},
            {
                "contentType": "image/png",
                "contentUrl": str(other.make_url("/evil.png")),
                "name": "e",
            },
        ]
        (card,) = await bot.say(POST, attachments=attachments, **STAFF)
    finally:
        await other.close()
    shown = texts(card)
    assert "大きすぎるため保存しませんでした（10MBまで）" in shown
    assert shown.count("画像ではないため保存しませんでした") == 3
    assert "Teamsから取得できませんでした" in shown
    assert "Teams以外の場所を指しているため、取得しませんでした" in shown
    assert elsewhere_hits == []  # nothing fetched from another host
    assert plain(POST) in shown  # the URL itself is kept (shown inert)


async def test_screenshot_limit_is_checked_before_downloading(bot: BotUnderTest) -> None:
    await report_sns_case(bot, "Xで中傷された")
    shots = [PNG + bytes([i]) for i in range(MAX_PENDING_SHOTS + 25)]
    for i, data in enumerate(shots):
        bot.connector.files[f"s{i}"] = (200, "image/png", data)
    attachments = [image(bot, f"s{i}") for i in range(3)]
    await bot.say(POST, attachments=attachments, **STAFF)
    assert len(bot.connector.downloads) == 3
    # One message with far more images than the capture may hold: only the free slots
    # are downloaded, and the person is told the rest were not kept.
    bot.connector.downloads.clear()
    attachments = [image(bot, f"s{i}") for i in range(3, len(shots))]
    (card,) = await bot.say(POST, attachments=attachments, **STAFF)
    assert len(bot.connector.downloads) == MAX_PENDING_SHOTS - 3
    assert f"{MAX_PENDING_SHOTS}" in texts(card)
    bot.connector.downloads.clear()
    await bot.say(POST, attachments=[image(bot, "s0")], **STAFF)
    assert bot.connector.downloads == []  # full: nothing more is fetched


async def test_form_problems_and_no_case(bot: BotUnderTest) -> None:
    (card,) = await bot.say(POST, **STAFF)
    assert "記録先となるSNSの案件がまだありません" in texts(card)
    case_id = await report_sns_case(bot, "Xで名指し")
    (form,) = await bot.say(POST, **STAFF)  # kept from before: told, not duplicated
    assert "すでに受け取っています" in texts(form)
    bad = {**FORM, "account": "", "profile_url": "javascript:alert(1)", "posted_time": "25:99"}
    _, body, _ = await bot.click("sns.capture.submit", {"case": case_id, **bad}, **STAFF)
    shown = texts(body["value"])
    assert "投稿したアカウント名を入力してください" in shown
    assert "http:// または https:// で始まるURL" in shown
    assert "HH:MM" in shown
    _, body, _ = await bot.click("sns.capture.submit", {"case": "KH-2026-9999", **FORM}, **STAFF)
    assert "KH-2026-9999" not in texts(body["value"]) or "案件" in texts(body["value"])
    other = {"user_aad": "aad-other", "user_id": "29:other", "user_name": "他人"}
    await bot.say("https://x.com/a/status/9", **other)
    _, body, _ = await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **other)
    assert len(await entries(bot, case_id)) == 0  # another person cannot add to this case


async def test_inline_data_url_image_is_decoded_not_fetched(bot: BotUnderTest) -> None:
    case_id = await report_sns_case(bot, "Instagramで名指し")
    inline = "data:image/png;base64," + base64.b64encode(PNG).decode()
    not_image = "data:image/png;base64," + base64.b64encode(b"MZ\x90\x00 exe").decode()
    attachments = [
        {"contentType": "image/*", "contentUrl": inline, "name": "pasted.png"},
        {"contentType": "image/*", "contentUrl": not_image, "name": "x.png"},
        {"contentType": "image/*", "contentUrl": "blob:http://localhost/1", "name": "b.png"},
    ]
    (form,) = await bot.say("https://instagram.com/p/1", attachments=attachments, **STAFF)
    shown = texts(form)
    assert hashlib.sha256(PNG).hexdigest() in shown
    assert "画像ではないため" in shown and "Teams以外の場所" in shown
    assert bot.connector.downloads == []
    await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **STAFF)
    (item,) = await entries(bot, case_id)
    assert item.platform == "instagram" and len(item.screenshots) == 1


async def test_a_manager_captures_on_behalf_of_staff(tmp_path: Path) -> None:
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        graph_sandbox_embedded=False,
        manager_ids="aad-kacho",
        _env_file=None,
    )
    kacho = {"user_aad": "aad-kacho", "user_id": "29:kacho", "user_name": "高橋 課長"}
    async for bot in start_bot(settings):
        case_id = await report_sns_case(bot, "Xで名指し")
        (form,) = await bot.say(POST, **kacho)
        assert case_id in texts(form)  # the department's open SNS cases are offered
        _, body, _ = await bot.click("sns.capture.submit", {"case": case_id, **FORM}, **kacho)
        assert f"{case_id} に証拠を記録しました" in texts(body["value"])
        store = bot.services.persistence.store
        last = [decode(e) async for e in store.iter_evidence(case_id)][-1]
        assert last.recorded_by.object_id == "aad-kacho"
