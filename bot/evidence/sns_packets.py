"""SNS-case documents in the export bundle: the spread chart, the legal and police packets.

Written from the same verified chain as the rest of the bundle, in Japanese, as
print-ready HTML (see ``bot.evidence.report`` for why HTML). Every value is escaped:
post texts, accounts and URLs are written by the harasser.

- ``spread.svg``: reposts, quotes and copies over time, from the spread answers.
- ``legal-packet.html``: for the legal section or the lawyer (sender-disclosure):
  posts, URLs, times, days since each post against the access-log window, hashes,
  screenshots, the staff statement, platform reports, spread, timeline.
- ``police-packet.html``: for a police consultation: the facts, the posts, the threat,
  what the organisation did, and how to check the evidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from html import escape

from bot.domain.evidence import EvidenceRecord, NoteItem, SnsPostItem
from bot.domain.incidents import Incident
from bot.domain.sns import ClockLevel, LegalClock
from bot.domain.sns_monitor import SpreadPoint, parse_spread
from bot.evidence.report import _CSS, EVENT_JA, STATE_JA, TYPE_JA, jst

SPREAD = "spread.svg"
LEGAL = "legal-packet.html"
POLICE = "police-packet.html"
PLATFORM_MARK = "【プラットフォーム通報】"
MAX_POSTS = 500  # rows in a packet; evidence.csv holds every item
PLATFORM_JA = {"x": "X（旧Twitter）", "facebook": "Facebook", "instagram": "Instagram"}
LEVEL_JA = {
    ClockLevel.OK: "期間内",
    ClockLevel.WARN: "⚠ 期限が近い：開示請求を急ぐ",
    ClockLevel.CLOSED: "⚠ 保存期間の目安を経過：至急相談",
}

Files = list[tuple[str, str]]


@dataclass
class _Collected:
    posts: list[tuple[EvidenceRecord, SnsPostItem, Files]] = field(default_factory=list)
    spread: list[SpreadPoint] = field(default_factory=list)
    platform_reports: list[tuple[EvidenceRecord, str]] = field(default_factory=list)
    statements: list[tuple[EvidenceRecord, str]] = field(default_factory=list)


async def _collect(records: AsyncIterator[tuple[EvidenceRecord, Files]]) -> _Collected:
    found = _Collected()
    async for record, files in records:
        item = record.item
        if isinstance(item, SnsPostItem):
            if len(found.posts) < MAX_POSTS:
                found.posts.append((record, item, files))
        elif isinstance(item, NoteItem):
            observation = parse_spread(item.text)
            if observation is not None:
                found.spread.append(
                    SpreadPoint(
                        record.recorded_at,
                        observation.reposts,
                        observation.quotes,
                        observation.copies,
                    )
                )
            elif item.text.startswith(PLATFORM_MARK):
                found.platform_reports.append((record, item.text))
            elif item.statement:
                found.statements.append((record, item.text))
    return found


def spread_chart(points: list[SpreadPoint]) -> str:
    """The spread over time as an SVG line chart (reposts, quotes, copies)."""
    width, height, left, bottom, top_pad = 680, 260, 50, 40, 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'role="img" aria-label="拡散状況の推移">',
        '<text x="0" y="14" font-size="12">拡散状況の推移（リポスト・引用・転載）</text>',
    ]
    if not points:
        parts.append('<text x="50" y="120" font-size="12">拡散状況の記録はまだありません。</text>')
        return "".join(parts) + "</svg>\n"
    points = sorted(points, key=lambda p: p.at)
    first, last = points[0].at, points[-1].at
    span = max((last - first).total_seconds(), 1.0)
    peak = max(max(p.reposts, p.quotes, p.copies) for p in points) or 1
    plot_w, plot_h = width - left - 10, height - bottom - top_pad

    def xy(at: dt.datetime, value: int) -> str:
        x = left + plot_w * ((at - first).total_seconds() / span if len(points) > 1 else 0.5)
        y = top_pad + plot_h * (1 - value / peak)
        return f"{x:.1f},{y:.1f}"

    parts += [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="#000"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{height - bottom}" stroke="#000"/>',
        f'<text x="4" y="{top_pad + 4}" font-size="10">{peak}</text>',
        f'<text x="4" y="{height - bottom}" font-size="10">0</text>',
        f'<text x="{left}" y="{height - bottom + 16}" font-size="10">'
        f"{escape(jst(first)[:10])}</text>",
        f'<text x="{width - 90}" y="{height - bottom + 16}" font-size="10">'
        f"{escape(jst(last)[:10])}</text>",
    ]
    series = (
        ("reposts", "#c33", "リポスト"),
        ("quotes", "#357", "引用"),
        ("copies", "#383", "転載"),
    )
    for index, (name, colour, label) in enumerate(series):
        coords = " ".join(xy(p.at, getattr(p, name)) for p in points)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'
        )
        for p in points:
            x, y = xy(p.at, getattr(p, name)).split(",")
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{escape(jst(p.at))} '
                f"{label} {getattr(p, name)}</title></circle>"
            )
        parts.append(
            f'<text x="{left + 10 + index * 90}" y="{height - 6}" font-size="11" '
            f'fill="{colour}">■ {label}</text>'
        )
    return "".join(parts) + "</svg>\n"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{escape(title)}</h1>\n{body}</body></html>\n"
    )


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    lines = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{lines}</table>\n"


def _facts(rows: list[tuple[str, str]]) -> str:
    return (
        "<table>\n"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>\n" for k, v in rows)
        + "</table>\n"
    )


def _posts_table(found: _Collected, at: dt.datetime, clock: LegalClock | None) -> str:
    if not found.posts:
        return "<p>SNS投稿の記録はありません。</p>\n"
    header: tuple[str, ...] = (
        "番号",
        "サービス",
        "アカウント",
        "URL",
        "投稿日時",
        "保全日時",
        "スクリーンショット（SHA-256）",
    )
    if clock:
        header += ("投稿からの日数", "開示請求の目安")
    rows: list[tuple[str, ...]] = []
    for record, post, files in found.posts:
        shots = "<br>".join(
            f'{escape(p)}<br><span class="hash">{escape(s)}</span>' for p, s in files
        )
        row: tuple[str, ...] = (
            f"#{record.seq}",
            escape(PLATFORM_JA.get(post.platform, "その他")),
            escape(post.account),
            f'<span class="hash">{escape(post.url)}</span>',
            escape(jst(post.posted_at)) if post.posted_at else "不明",
            escape(jst(post.captured_at)),
            shots or "—",
        )
        if clock:
            if post.posted_at:
                level = clock.level(post.posted_at, at)
                row += (
                    str(clock.days_since(post.posted_at, at)),
                    f"{LEVEL_JA[level]}（目安{clock.window_days}日、残り約"
                    f"{clock.days_left(post.posted_at, at)}日）",
                )
            else:
                row += ("不明", "投稿日時を確認してください")
        rows.append(row)
    return _table(header, rows)


def _spread_section(found: _Collected) -> str:
    rows = [
        (escape(jst(p.at)), str(p.reposts), str(p.quotes), str(p.copies))
        for p in sorted(found.spread, key=lambda p: p.at)
    ]
    table = _table(("確認日時", "リポスト・シェア", "引用", "転載"), rows) if rows else ""
    return spread_chart(found.spread) + table


def _reports_section(found: _Collected) -> str:
    if not found.platform_reports:
        return "<p>プラットフォームへの通報の記録はありません。</p>\n"
    rows = [
        (
            f"#{r.seq}",
            escape(jst(r.recorded_at)),
            escape(r.recorded_by.display_name),
            escape(text).replace("\n", "<br>"),
        )
        for r, text in found.platform_reports
    ]
    return _table(("番号", "記録日時", "記録者", "内容・回答"), rows)


def _timeline(incident: Incident) -> str:
    rows = []
    for event in incident.timeline:
        what = EVENT_JA.get(event.kind, event.kind)
        if event.to_state:
            what += f"：{STATE_JA.get(event.to_state, event.to_state)}"
        rows.append((escape(jst(event.at)), escape(event.actor.display_name), escape(what)))
    return _table(("日時（日本時間）", "実施者", "内容"), rows)


def _integrity(count: int, head: str, at: dt.datetime) -> str:
    return (
        _facts(
            [
                ("証拠の件数", str(count)),
                ("チェーンの先頭ハッシュ", f'<span class="hash">{escape(head)}</span>'),
                ("出力日時", f"{escape(jst(at))}（日本時間）"),
            ]
        )
        + '<p class="note">確認方法は同梱の VERIFY.txt を参照してください'
        "（sha256sum -c SHA256SUMS）。</p>\n"
    )


def _case_facts(incident: Incident) -> str:
    return _facts(
        [
            ("事案番号", escape(incident.id)),
            ("種類", escape(TYPE_JA.get(incident.type, incident.type))),
            ("対象職員", escape("、".join(p.display_name for p in incident.targets))),
            ("報告者", escape(incident.reporter.display_name)),
            ("報告日時", escape(jst(incident.created_at)) + "（日本時間）"),
            ("身体への危険", "あり" if incident.physical_threat else "なし"),
            ("相手方アカウント", escape("、".join(incident.counterparts.sns_accounts)) or "—"),
        ]
    )


def _statements(incident: Incident, found: _Collected) -> str:
    parts = [
        f"<p><b>報告時の申述</b>（{escape(jst(incident.created_at))}）<br>"
        f"{escape(incident.summary).replace(chr(10), '<br>')}</p>\n"
    ]
    for record, text in found.statements:
        parts.append(
            f"<p><b>#{record.seq}</b>（{escape(jst(record.recorded_at))}）<br>"
            f"{escape(text).replace(chr(10), '<br>')}</p>\n"
        )
    return "".join(parts)


async def sns_documents(
    incident: Incident,
    records: AsyncIterator[tuple[EvidenceRecord, Files]],
    *,
    count: int,
    head: str,
    generated_at: dt.datetime,
    clock: LegalClock | None = None,
) -> list[tuple[str, str]]:
    """``(name, text)`` of the SNS documents for the bundle of ``incident``."""
    clock = clock or LegalClock()
    found = await _collect(records)
    law = (
        '<p class="note">⚖️ 発信者情報の開示請求は、'
        "情報流通プラットフォーム対処法（旧プロバイダ責任制限法）"
        f"に基づきます。アクセスログの保存期間は3〜6か月程度のことが多く、投稿から{clock.warn_days}日を"
        f"過ぎたら警告、{clock.window_days}日を保存期間の目安としています。法的な判断は必ず法務担当・"
        "弁護士が行ってください。</p>\n"
    )
    legal = _page(
        f"法務相談用資料（発信者情報開示）　{incident.id}",
        "<h2>1. 事案の概要</h2>\n"
        + _case_facts(incident)
        + law
        + "<h2>2. 対象の投稿と開示請求の期限</h2>\n"
        + _posts_table(found, generated_at, clock)
        + "<h2>3. 職員の申述</h2>\n"
        + _statements(incident, found)
        + "<h2>4. プラットフォームへの通報・削除依頼</h2>\n"
        + _reports_section(found)
        + "<h2>5. 拡散状況</h2>\n"
        + _spread_section(found)
        + "<h2>6. 経過</h2>\n"
        + _timeline(incident)
        + "<h2>7. 証拠の完全性</h2>\n"
        + _integrity(count, head, generated_at),
    )
    threat = (
        '<p class="threat">⚠ 身体への危険（危害の予告・おそれ）が報告されています。</p>\n'
        if incident.physical_threat
        else ""
    )
    police = _page(
        f"警察相談用資料　{incident.id}",
        threat
        + "<h2>1. 相談の要旨</h2>\n"
        + _case_facts(incident)
        + _statements(incident, found)
        + "<h2>2. 投稿の一覧（日時・URL・保全した画像）</h2>\n"
        + _posts_table(found, generated_at, None)
        + "<h2>3. 拡散状況</h2>\n"
        + _spread_section(found)
        + "<h2>4. 組織としての対応</h2>\n"
        + _reports_section(found)
        + _timeline(incident)
        + "<h2>5. 持参するもの</h2>\n<ul><li>この資料と証拠バンドル（ZIP）一式</li>"
        "<li>スクリーンショットの印刷（screenshots/ フォルダ）</li>"
        "<li>職員本人の申述（上記1.）と、電話・窓口でのやり取りの記録</li></ul>\n"
        + "<h2>6. 証拠の完全性</h2>\n"
        + _integrity(count, head, generated_at),
    )
    return [(SPREAD, spread_chart(found.spread)), (LEGAL, legal), (POLICE, police)]
