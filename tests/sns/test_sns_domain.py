"""SNS domain rules (URLs, platforms, legal clock, schedule, deal detection) and the layering."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from bot.domain.sns import (
    ClockLevel,
    InvalidPostUrl,
    LegalClock,
    MonitoringPlan,
    Platform,
    offers_deletion_deal,
    parse_post_url,
    platform_of,
    scan_urls,
)
from bot.sns.attachments import sniff_image

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://x.com/a/status/1", Platform.X),
        ("https://mobile.twitter.com/a", Platform.X),
        ("http://www.facebook.com/p/1", Platform.FACEBOOK),
        ("https://www.instagram.com/p/abc/", Platform.INSTAGRAM),
        ("https://notx.com/a", Platform.OTHER),
        ("https://x.com.evil.example/a", Platform.OTHER),
        ("https://5ch.net/thread/1", Platform.OTHER),
    ],
)
def test_platform_from_host(url: str, platform: Platform) -> None:
    assert platform_of(parse_post_url(url)) is platform


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("javascript:alert(1)", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("ftp://a.example/x", "scheme"),
        ("data:text/html,<b>", "scheme"),
        ("https://", "not-a-url"),
        ("just some text", "not-a-url"),
        ("https://" + "a" * 2001, "too-long"),
    ],
)
def test_bad_urls_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidPostUrl) as refused:
        parse_post_url(text)
    assert refused.value.reason == reason


def test_scan_keeps_order_dedups_and_ignores_plain_colons() -> None:
    scan = scan_urls(
        "時刻 10:30 note:abc https://x.com/1 www.example.jp/a https://x.com/1。x.com/u/status/2"
    )
    assert scan.urls == ("https://x.com/1", "https://www.example.jp/a", "https://x.com/u/status/2")
    assert scan.refused == ()


def test_legal_clock_levels() -> None:
    clock = LegalClock(warn_days=60, window_days=90)
    assert clock.level(T0, T0 + dt.timedelta(days=59)) is ClockLevel.OK
    assert clock.level(T0, T0 + dt.timedelta(days=60)) is ClockLevel.WARN
    assert clock.days_left(T0, T0 + dt.timedelta(days=60)) == 30
    assert clock.level(T0, T0 + dt.timedelta(days=90)) is ClockLevel.CLOSED
    assert clock.days_since(T0, T0 - dt.timedelta(days=3)) == 0


def test_monitoring_plan_daily_then_weekly() -> None:
    times = MonitoringPlan(daily_days=7, weekly_weeks=2).due_times(T0)
    days = [(t - T0).days for t in times]
    assert days == [1, 2, 3, 4, 5, 6, 7, 14, 21]


@pytest.mark.parametrize(
    ("text", "deal"),
    [
        ("消してほしければ申請を通せと言われた", True),
        ("謝れば消してやると窓口で言われた", True),
        ("He said he'd delete it if we approve", True),
        ("Xで名指しされ、拡散されている", False),
    ],
)
def test_deletion_deal_detection(text: str, deal: bool) -> None:
    assert offers_deletion_deal(text) is deal


def test_image_sniffing_checks_whole_signatures() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01"
    bmp = b"BM" + (70).to_bytes(4, "little") + b"\0\0\0\0" + (54).to_bytes(4, "little")
    bmp += (40).to_bytes(4, "little")
    assert sniff_image(png) == "image/png"
    assert sniff_image(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_image(b"\xff\xd8\xff\xdb\x00\x84") == "image/jpeg"
    assert sniff_image(b"GIF89a\x01\x00\x01\x00\x80\x00\x00") == "image/gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(bmp) == "image/bmp"
    # Only the first bytes of a signature: not an image.
    for fake in (
        b"\x89PNG\r\n\x1a\n....",  # PNG signature without its IHDR chunk
        b"\x89PNG\r\n",
        b"\xff\xd8\xff\x00garbage",  # no JPEG marker after start-of-image
        b"GIF89a",
        b"RIFF\x00\x00\x00\x00WEBPJUNK",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"BMW is a car brand, not a bitmap",  # "BM" alone
        b"%PDF-1.7",
        b"",
    ):
        assert sniff_image(fake) is None, fake


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_layering_of_sns_modules() -> None:
    domain = [*ROOT.glob("bot/domain/sns*.py"), ROOT / "bot/domain/platforms.py"]
    for path in domain:
        project = {m for m in _imports(path) if m.split(".")[0] in {"bot", "cards", "graph"}}
        assert all(m.startswith("bot.domain") for m in project), path
    for path in ROOT.glob("cards/sns*.py"):
        project = {m for m in _imports(path) if m.split(".")[0] in {"bot", "cards", "graph"}}
        assert all(m.startswith(("bot.domain", "cards")) for m in project), path
