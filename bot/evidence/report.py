"""The Japanese evidence report (print-ready HTML) of an export bundle.

HTML rather than PDF: this machine has no Japanese font and no PDF engine in the
project's dependencies, and a browser prints HTML to PDF with the reader's own
Japanese fonts (see docs/evidence.md). Every value is escaped and a Content Security
Policy forbids scripts, because subjects and posts are written by the harasser.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from bot.domain.evidence import EmailItem, EvidenceKind, EvidenceRecord, NoteItem, SnsPostItem
from bot.domain.incidents import JST, Incident, IncidentState
from bot.domain.locale import Locale
from cards.i18n import t

Write = Callable[[str], object]

TYPE_JA = {
    "sns-defamation": "SNSでの誹謗中傷",
    "mass-email": "大量・執拗なメール",
    "personal-fixation": "特定職員への執着",
}
# The case states in the one vocabulary the cards and notices use (cards/i18n).
STATE_JA = {state.value: t(f"state.{state.value}", Locale.JA) for state in IncidentState}
KIND_JA = {
    EvidenceKind.EMAIL: "メール",
    EvidenceKind.SNS_POST: "SNS投稿",
    EvidenceKind.NOTE: "メモ",
    EvidenceKind.STATEMENT: "職員の申述",
}
EVENT_JA = {"reported": "報告", "state_changed": "状態変更", "note": "メモ", "exported": "証拠出力"}
TABLE_LIMIT = 1000  # rows in the printed table; evidence.csv holds every item

_CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic",
  "Hiragino Kaku Gothic ProN",
  "Yu Gothic", "Meiryo", sans-serif; font-size: 10.5pt; line-height: 1.5; color: #000; }
h1 { font-size: 18pt; border-bottom: 2px solid #000; } h2 { font-size: 13pt; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #555; padding: 2px 5px; vertical-align: top; text-align: left; }
th { background: #eee; white-space: nowrap; } tr { page-break-inside: avoid; }
.hash { font-family: monospace; font-size: 8.5pt; word-break: break-all; }
.threat { border: 3px solid #c00; color: #c00; font-weight: bold; padding: .5em; }
.num { text-align: right; } svg { max-width: 100%; } .note { font-size: 9pt; color: #333; }
"""


def jst(value: dt.datetime) -> str:
    """``value`` as Japan time text."""
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def occurred_at(record: EvidenceRecord) -> dt.datetime:
    """When the thing itself happened: mail received, post posted (else captured/recorded)."""
    item = record.item
    if isinstance(item, EmailItem):
        return item.received_at
    if isinstance(item, SnsPostItem):
        return item.posted_at or item.captured_at
    return record.recorded_at


@dataclass
class Aggregates:
    """Counts gathered while streaming the chain (memory bounded by days, not items)."""

    kinds: Counter[str] = field(default_factory=Counter)
    mail_per_day: Counter[str] = field(default_factory=Counter)
    mail_per_hour: Counter[int] = field(default_factory=Counter)

    def add(self, record: EvidenceRecord) -> None:
        """Count one record."""
        self.kinds[record.kind] += 1
        if isinstance(record.item, EmailItem):
            at = record.item.received_at.astimezone(JST)
            self.mail_per_day[at.date().isoformat()] += 1
            self.mail_per_hour[at.hour] += 1


def _bar_chart(title: str, bars: list[tuple[str, int]]) -> str:
    if not bars:
        return "<p>メールの記録はありません。</p>"
    width, height, left, bottom = 680, 220, 40, 40
    top = max(count for _, count in bars) or 1
    step = (width - left) / len(bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'stroke="#000"/>',
        f'<text x="0" y="12" font-size="10">{top}</text>',
    ]
    label_every = max(1, len(bars) // 24)
    for i, (label, count) in enumerate(bars):
        h = (height - bottom - 20) * count / top
        x = left + i * step
        parts.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{height - bottom - h:.1f}" '
            f'width="{step * 0.8:.1f}" height="{h:.1f}" fill="#357"><title>{escape(label)}: '
            f"{count}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="9">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _row(*cells: str, header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>\n"


def write_head(
    write: Write, incident: Incident, count: int, head: str, generated_at: dt.datetime
) -> None:
    """The report up to (not including) the counts: title, summary, integrity, timeline."""
    e = escape
    c = incident.counterparts
    write(
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>証拠報告書 {e(incident.id)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>証拠報告書　{e(incident.id)}</h1>\n"
    )
    if incident.physical_threat:
        write('<p class="threat">⚠ 身体への危険（危害の予告・おそれ）が報告されています。</p>\n')
    rows = [
        ("事案番号", e(incident.id)),
        ("種類", e(TYPE_JA.get(incident.type, incident.type))),
        ("状態", e(STATE_JA.get(incident.state, incident.state))),
        ("部署", e(incident.department)),
        ("報告者", e(incident.reporter.display_name)),
        ("対象職員", e("、".join(p.display_name for p in incident.targets))),
        ("相手方メールアドレス", e("、".join(c.emails)) or "—"),
        ("相手方ドメイン", e("、".join(c.domains)) or "—"),
        ("相手方SNSアカウント", e("、".join(c.sns_accounts)) or "—"),
        ("相手方URL", e("、".join(c.urls)) or "—"),
        ("身体への危険", "あり" if incident.physical_threat else "なし"),
        ("始まった日", e(incident.started_on.isoformat()) if incident.started_on else "—"),
        ("報告日時", e(jst(incident.created_at)) + "（日本時間）"),
        ("報告内容", e(incident.summary).replace("\n", "<br>")),
    ]
    write("<h2>1. 事案の概要</h2>\n<table>\n")
    for label, value in rows:
        write(f"<tr><th>{label}</th><td>{value}</td></tr>\n")
    write(
        "</table>\n<h2>2. 証拠の完全性</h2>\n<table>\n"
        f"<tr><th>証拠の件数</th><td>{count}</td></tr>\n"
        f'<tr><th>チェーンの先頭ハッシュ</th><td class="hash">{e(head)}</td></tr>\n'
        f"<tr><th>出力日時</th><td>{e(jst(generated_at))}（日本時間）</td></tr>\n</table>\n"
        '<p class="note">各証拠は SHA-256(直前のハッシュ || 証拠の正規化JSON) で連結されています。'
        "同梱の VERIFY.txt の手順で、改ざんがないことを誰でも確認できます。"
        "先頭ハッシュは送付元に別途お問い合わせのうえ照合してください。</p>\n"
        "<h2>3. 経過</h2>\n<table>\n" + _row("日時（日本時間）", "実施者", "内容", header=True)
    )
    for event in incident.timeline:
        what = EVENT_JA.get(event.kind, event.kind)
        if event.to_state:
            what += f"：{STATE_JA.get(event.to_state, event.to_state)}"
        if event.note:
            what += f"（{event.note}）"
        write(_row(e(jst(event.at)), e(event.actor.display_name), e(what)))
    write("</table>\n")


def write_counts(write: Write, agg: Aggregates) -> None:
    """Counts per kind, mail per day and per hour, with bar charts."""
    write("<h2>4. 件数</h2>\n<table>\n" + _row("種類", "件数", header=True))
    for kind, count in sorted(agg.kinds.items()):
        write(
            _row(escape(KIND_JA.get(EvidenceKind(kind), kind)), f'<span class="num">{count}</span>')
        )
    days = sorted(agg.mail_per_day.items())
    write("</table>\n<h3>メール受信数（日別・日本時間）</h3>\n")
    write(_bar_chart("メール受信数（日別）", [(d[5:], n) for d, n in days]))
    write("<table>\n" + _row("日付", "通数", header=True))
    for day, count in days:
        write(_row(day, f'<span class="num">{count}</span>'))
    write("</table>\n<h3>メール受信数（時間帯別・日本時間）</h3>\n")
    hours = [(f"{h}時", agg.mail_per_hour.get(h, 0)) for h in range(24)]
    write(_bar_chart("メール受信数（時間帯別）", hours if days else []))
    write(
        "<table>\n"
        + _row("時間帯", *(str(h) for h in range(24)), header=True)
        + _row("通数", *(str(n) for _, n in hours))
        + "</table>\n"
    )


def write_table_start(write: Write, total: int) -> None:
    """The heading of the evidence table."""
    more = (
        f'<p class="note">先頭の{TABLE_LIMIT}件を掲載しています。全{total}件は evidence.csv '
        "にあります。</p>\n"
        if total > TABLE_LIMIT
        else ""
    )
    write(
        f"<h2>5. 証拠一覧</h2>\n{more}<table>\n"
        + _row(
            "番号",
            "種類",
            "日時（日本時間）",
            "送信者・アカウント",
            "件名・URL・内容",
            "ファイル / SHA-256",
            header=True,
        )
    )


def write_table_row(write: Write, record: EvidenceRecord, files: list[tuple[str, str]]) -> None:
    """One row of the evidence table."""
    item = record.item
    who, what = "", ""
    if isinstance(item, EmailItem):
        who, what = item.sender, item.subject
    elif isinstance(item, SnsPostItem):
        who, what = f"{item.platform} {item.account}", item.url
    elif isinstance(item, NoteItem):
        who, what = record.recorded_by.display_name, item.text[:200]
    file_cells = "<br>".join(
        f'{escape(p)}<br><span class="hash">{escape(s)}</span>' for p, s in files
    )
    write(
        _row(
            str(record.seq),
            escape(KIND_JA.get(record.kind, record.kind)),
            escape(jst(occurred_at(record))),
            escape(who),
            escape(what),
            file_cells or "—",
        )
    )


def write_end(write: Write) -> None:
    """Close the table and the document."""
    write("</table>\n</body></html>\n")
