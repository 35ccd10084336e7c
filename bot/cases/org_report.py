"""The organisation's figures as a print-ready Japanese HTML report and a CSV.

The HTML stands alone: inline CSS for A4 printing, charts drawn here as inline SVG,
no font, script or image from anywhere else (it is read offline and archived). Every
text that comes from data goes through ``html.escape``. The CSV (UTF-8 with a BOM, so
that Excel reads the Japanese) has one row per figure: section, item, value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from html import escape

from bot.domain.figures import Durations, OrgFigures

TYPE_LABELS = {
    "mass-email": "大量・執拗なメール",
    "personal-fixation": "特定職員への執着",
    "sns-defamation": "SNSでの名指し・誹謗中傷",
    "general-first-response": "電話・窓口での威圧や拘束",
    "urgent-safety": "身の危険（緊急）",
}
STATE_LABELS = {
    "reported": "報告済み",
    "escalated": "上司が確認中",
    "actions_approved": "対応を承認済み",
    "in_progress": "対応中",
    "monitoring": "経過観察",
    "closed": "完了",
    "rejected": "対応不要と判断",
    "reopened": "再開",
}
_BAR = "#3b6ea5"
_CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Yu Gothic", "Hiragino Sans", "Noto Sans CJK JP", sans-serif;
       color: #1f2328; font-size: 10.5pt; line-height: 1.5; margin: 0 auto; max-width: 180mm; }
h1 { font-size: 17pt; margin: 0 0 2mm; } h2 { font-size: 12.5pt; margin: 7mm 0 2mm;
     border-bottom: 1px solid #8c959f; padding-bottom: 1mm; break-after: avoid; }
.meta { color: #57606a; font-size: 9pt; } .note { color: #57606a; font-size: 8.5pt; }
.kpis { display: flex; flex-wrap: wrap; gap: 3mm; margin: 4mm 0; }
.kpi { border: 1px solid #d0d7de; border-radius: 2mm; padding: 2mm 3mm; min-width: 36mm; }
.kpi b { display: block; font-size: 15pt; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; break-inside: avoid; }
th, td { border: 1px solid #d0d7de; padding: 1mm 2mm; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; margin: 2mm 0; break-inside: avoid; }
section { break-inside: avoid; }
"""


def _num(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value:,}{unit}"


def hbar_chart(rows: Sequence[tuple[str, int]], *, title: str) -> str:
    """A horizontal bar chart as inline SVG (labels left, counts right)."""
    height = 22 * len(rows) + 10
    peak = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{height}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 640 {height}">'
    ]
    for n, (label, value) in enumerate(rows):
        y = 5 + 22 * n
        width = round(380 * value / peak)
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12" font-family="sans-serif">'
            f"{escape(label)}</text>"
            f'<rect x="200" y="{y + 2}" width="{width}" height="16" fill="{_BAR}"/>'
            f'<text x="{206 + width}" y="{y + 14}" font-size="12" font-family="sans-serif">'
            f"{value:,}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(rows: Sequence[tuple[str, int]], *, title: str) -> str:
    """Monthly columns as inline SVG (month under each column, count above it)."""
    slot = max(24, 640 // max(len(rows), 1))
    width = slot * len(rows) + 10
    peak = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="190" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width} 190">',
        f'<line x1="0" y1="160" x2="{width}" y2="160" stroke="#8c959f"/>',
    ]
    for n, (label, value) in enumerate(rows):
        x = 5 + slot * n
        h = round(130 * value / peak)
        parts.append(
            f'<rect x="{x + 4}" y="{160 - h}" width="{slot - 8}" height="{h}" fill="{_BAR}"/>'
            f'<text x="{x + slot / 2}" y="{155 - h}" font-size="11" text-anchor="middle" '
            f'font-family="sans-serif">{value:,}</text>'
            f'<text x="{x + slot / 2}" y="176" font-size="10" text-anchor="middle" '
            f'font-family="sans-serif">{escape(label[2:].replace("-", "/"))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[tuple[str, str]], head: tuple[str, str]) -> str:
    body = "".join(f"<tr><td>{escape(a)}</td><td class='n'>{escape(b)}</td></tr>" for a, b in rows)
    return f"<table><tr><th>{escape(head[0])}</th><th>{escape(head[1])}</th></tr>{body}</table>"


def _durations(name: str, d: Durations) -> tuple[str, str, str, str, str]:
    return (
        name,
        _num(d.count),
        _num(d.median_hours, "時間"),
        _num(d.mean_hours, "時間"),
        _num(d.max_hours, "時間"),
    )


def render_html(
    figures: OrgFigures,
    *,
    organisation: str = "",
    departments: Mapping[str, str] | None = None,
    generated_at: dt.datetime | None = None,
) -> str:
    """The print-ready report (Japanese)."""
    names = departments or {}
    f = figures
    period = f"{f.start:%Y年%m月%d日}〜{f.end:%Y年%m月%d日}"
    types = [(TYPE_LABELS.get(k, k), v) for k, v in f.by_type.items()]
    depts = [(names.get(k, k), v) for k, v in f.by_department.items()]
    month_rows = list(f.by_month.items())
    kpis = [
        ("報告された案件", _num(f.cases, "件")),
        ("判断までの時間（中央値）", _num(f.to_decision.median_hours, "時間")),
        ("保全までの時間（中央値）", _num(f.to_protection.median_hours, "時間")),
        ("保全したメール", _num(f.mails_preserved, "通")),
        ("未完了のタスク", _num(f.open_tasks, "件")),
        ("期限切れのタスク", _num(f.overdue_tasks, "件")),
        ("繰り返し現れる相手", _num(f.repeat_counterparts, "人")),
    ]
    durations = [
        _durations("報告から判断まで", f.to_decision),
        _durations("報告から保全（メールの振り分け完了）まで", f.to_protection),
    ]
    duration_rows = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i else ''}>{escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in durations
    )
    visible = ""
    if f.visible_cases:
        visible = (
            "<section><h2>閲覧権限のある案件</h2><p class='note'>この報告書を作成した人が"
            "開ける案件の番号だけを載せています。</p><p>"
            + "、".join(escape(i) for i in f.visible_cases)
            + "</p></section>"
        )
    stamp = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    who = escape(organisation) + "　" if organisation else ""
    kpi_html = "".join(f"<div class=kpi>{escape(k)}<b>{escape(v)}</b></div>" for k, v in kpis)
    dept_chart = hbar_chart(depts, title="部署別の件数") if depts else "<p>案件はありません。</p>"
    states = [(STATE_LABELS.get(k, k), _num(v)) for k, v in f.by_state.items()]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ja"><head><meta charset="utf-8">',
        f"<title>カスタマーハラスメント対応 集計報告 {escape(period)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>カスタマーハラスメント対応 集計報告</h1>",
        f'<p class="meta">{who}対象期間: {escape(period)}（報告日で集計・日本時間）　'
        f"作成: {escape(stamp)}　Mamoru</p>",
        '<p class="note">件数と時間だけを載せています。'
        "職員・相手方の氏名、連絡先、内容は含みません。</p>",
        f'<div class="kpis">{kpi_html}</div>',
        "<section><h2>月別の報告件数</h2>",
        column_chart(month_rows, title="月別の報告件数"),
        _table([(m, _num(v)) for m, v in month_rows], ("月", "件数")),
        "</section>",
        f"<section><h2>種類別</h2>{hbar_chart(types, title='種類別の件数')}</section>",
        f"<section><h2>部署別</h2>{dept_chart}</section>",
        "<section><h2>対応にかかった時間</h2>",
        "<table><tr><th>区間</th><th>件数</th><th>中央値</th><th>平均</th><th>最長</th></tr>",
        f"{duration_rows}</table>",
        '<p class="note">保全までの時間は、メールの保全（受信ルールと既存メールの移動）が'
        "完了した案件だけで計算しています。</p></section>",
        f"<section><h2>状態別</h2>{_table(states, ('状態', '件数'))}</section>",
        "<section><h2>繰り返し現れる相手</h2>",
        f"<p>同じ相手（メールアドレスまたはSNSアカウント）が複数の案件に現れたのは "
        f"{f.repeat_counterparts:,} 人、その案件は {f.cases_with_repeat_counterpart:,} 件です。"
        "組織として一体で対応することを検討してください。</p></section>",
        visible,
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def render_csv(figures: OrgFigures) -> str:
    """The figures as CSV rows (区分, 項目, 値), UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["区分", "項目", "値"])
    f = figures
    writer.writerow(["期間", "開始", f.start.isoformat()])
    writer.writerow(["期間", "終了", f.end.isoformat()])
    writer.writerow(["件数", "合計", f.cases])
    for section, values in (
        ("種類", f.by_type),
        ("部署", f.by_department),
        ("月", f.by_month),
        ("状態", f.by_state),
    ):
        for key, value in values.items():
            writer.writerow([section, key, value])
    for section, d in (
        ("報告から判断まで（時間）", f.to_decision),
        ("報告から保全まで（時間）", f.to_protection),
    ):
        writer.writerow([section, "件数", d.count])
        writer.writerow([section, "中央値", "" if d.median_hours is None else d.median_hours])
        writer.writerow([section, "平均", "" if d.mean_hours is None else d.mean_hours])
        writer.writerow([section, "最長", "" if d.max_hours is None else d.max_hours])
    writer.writerow(["メール", "保全した通数", f.mails_preserved])
    writer.writerow(["タスク", "未完了", f.open_tasks])
    writer.writerow(["タスク", "期限切れ", f.overdue_tasks])
    writer.writerow(["相手", "複数の案件に現れた相手", f.repeat_counterparts])
    writer.writerow(["相手", "その案件数", f.cases_with_repeat_counterpart])
    return "\ufeff" + out.getvalue()
