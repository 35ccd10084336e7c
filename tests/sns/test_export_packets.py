"""The export of an SNS case: spread chart, legal packet and police packet, verifiable."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile
from pathlib import Path

from bot.domain.incidents import JST, Person
from bot.domain.ports import SystemClock
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.export import export_bundle
from bot.evidence.verify import verify_bundle
from tests.sns.conftest import PNG, STAFF, image, report_sns_case
from tests.teams.conftest import BotUnderTest

POST = "https://x.com/someone/status/42"


async def test_sns_bundle_has_chart_and_packets(bot: BotUnderTest, tmp_path: Path) -> None:
    case_id = await report_sns_case(
        bot, "Xで実名と写真を載せられた。危害をほのめかす書き込みもある"
    )
    bot.connector.files["s"] = (200, "image/png", PNG)
    await bot.say(POST, attachments=[image(bot, "s")], **STAFF)
    posted = (dt.datetime.now(JST) - dt.timedelta(days=70)).date().isoformat()
    await bot.click(
        "sns.capture.submit",
        {"case": case_id, "account": "<script>alert(1)</script>", "posted_date": posted},
        **STAFF,
    )
    for prompt, reposts in ((1, 10), (2, 45), (3, 120)):
        await bot.click(
            "sns.monitor.answer",
            {"case": case_id, "prompt": prompt, "reposts": reposts, "quotes": 2, "copies": 1},
            **STAFF,
        )
    await bot.click(
        "sns.platform.reported",
        {"case": case_id, "platform": "x", "status": "reported", "answer": "受付 #77"},
        **STAFF,
    )

    store = bot.services.persistence.store
    blobs = LocalBlobStore(Path(bot.app_data_dir) / "blobs")
    out = tmp_path / f"{case_id}.zip"
    await export_bundle(
        store, blobs, case_id, out, actor=Person("aad-legal", "法務"), clock=SystemClock()
    )
    assert verify_bundle(out).ok  # the new documents are listed and hashed like the others

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"spread.svg", "legal-packet.html", "police-packet.html"} <= names
        chart = zf.read("spread.svg").decode()
        legal = zf.read("legal-packet.html").decode()
        police = zf.read("police-packet.html").decode()
    assert chart.count("<polyline") == 3 and "120" in chart
    sha = hashlib.sha256(PNG).hexdigest()
    for packet in (legal, police):
        assert POST in packet and sha in packet and "受付 #77" in packet
        assert "<script>" not in packet and "&lt;script&gt;" in packet
        assert "<polyline" in packet
    # The post's row: 70 days since the post, inside the warning band, 20 days of the window left.
    row = next(r for r in legal.split("<tr>") if POST in r)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[-2:] == ["70", "⚠ 期限が近い：開示請求を急ぐ（目安90日、残り約20日）"]
    assert "情報流通プラットフォーム対処法" in legal
    assert "危害をほのめかす" in legal and "持参するもの" in police
