"""Cards of SNS cases: the capture form, the capture result with the legal clock, protection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.domain.incidents import JST
from bot.domain.locale import Locale
from bot.domain.report import FieldProblem
from bot.domain.sns import ClockLevel, LegalClock, Platform
from bot.domain.sns_capture import CaptureResult, CaseChoice, Note, PendingCapture
from cards.elements import Element, card, container, execute, heading, plain, text
from cards.i18n import t
from cards.verbs import Verb

SNS_PLAYBOOK = "sns-defamation"
DEAL_SCRIPTS = ("phone-deletion-deal", "counter-apology-deal")
CALL_SCRIPTS = ("phone-pile-on", "mail-request-to-stop")
MAX_NOTES = 12


def platform_name(platform: Platform | str, locale: Locale) -> str:
    """The platform's display name."""
    return t(f"sns.platform.{Platform(platform).value}", locale)


def notes_block(notes: Sequence[Note], locale: Locale) -> list[Element]:
    """The notes (refusals, duplicates, saved screenshots) as short lines."""
    lines = [
        t(n.key, locale, **{k: plain(str(v)) for k, v in n.values.items()})
        for n in notes[:MAX_NOTES]
    ]
    if not lines:
        return []
    warn = any(n.key.startswith(("sns.url.", "sns.refused.", "sns.form.")) for n in notes)
    return [container([text(line) for line in lines], style="warning" if warn else "emphasis")]


def _problems(problems: Sequence[FieldProblem], locale: Locale) -> list[Element]:
    if not problems:
        return []
    lines = [p.ja if locale is Locale.JA else p.en for p in problems]
    return [container([text(line, color="Attention") for line in lines], style="attention")]


def capture_form_card(
    pending: PendingCapture,
    cases: Sequence[CaseChoice],
    locale: Locale,
    *,
    notes: Sequence[Note] = (),
    problems: Sequence[FieldProblem] = (),
    values: dict[str, object] | None = None,
) -> Element:
    """The form that records the pending URLs and screenshots on a case."""
    values = values or {}

    def value(name: str) -> str:
        raw = values.get(name)
        return raw if isinstance(raw, str) else ""

    body: list[Element] = [heading(t("sns.capture.title", locale)), *notes_block(notes, locale)]
    body += _problems(problems, locale)
    body.append(text(t("sns.capture.intro", locale)))
    if pending.urls:
        facts = [
            {"title": platform_name(p, locale), "value": plain(u[:300])}
            for u, p in pending.platforms()
        ]
        body += [
            text(t("sns.capture.urls", locale), weight="Bolder"),
            {"type": "FactSet", "facts": facts},
        ]
    else:
        body.append(text(t("sns.capture.no_urls", locale), color="Attention"))
    if pending.screenshots:
        shots = [f"- {plain(s.filename)} `{s.sha256}`" for s in pending.screenshots]
        body += [
            text(t("sns.capture.shots", locale), weight="Bolder"),
            text("\r".join(shots), size="Small"),
        ]
    else:
        body.append(text(t("sns.capture.no_shots", locale), subtle=True))
    choices = [{"title": f"{c.id} {c.summary[:40]}", "value": c.id} for c in cases]
    body += [
        {
            "type": "Input.ChoiceSet",
            "id": "case",
            "label": t("sns.capture.case", locale),
            "isRequired": True,
            "choices": choices,
            "value": value("case") or (cases[0].id if cases else ""),
        },
        {
            "type": "Input.Text",
            "id": "account",
            "label": t("sns.capture.account", locale),
            "isRequired": True,
            "maxLength": 200,
            "placeholder": "@example",
            "value": value("account"),
        },
        {
            "type": "Input.Text",
            "id": "profile_url",
            "label": t("sns.capture.profile", locale),
            "style": "Url",
            "maxLength": 2000,
            "value": value("profile_url"),
        },
        {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        {
                            "type": "Input.Date",
                            "id": "posted_date",
                            "label": t("sns.capture.posted", locale),
                            "value": value("posted_date"),
                        }
                    ],
                },
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        {
                            "type": "Input.Time",
                            "id": "posted_time",
                            "label": " ",
                            "value": value("posted_time"),
                        }
                    ],
                },
            ],
        },
        {
            "type": "Input.Text",
            "id": "context",
            "label": t("sns.capture.context", locale),
            "isMultiline": True,
            "maxLength": 2000,
            "value": value("context"),
        },
    ]
    actions = [
        execute(t("sns.capture.submit", locale), Verb.SNS_CAPTURE_SUBMIT, locale),
        execute(t("sns.capture.discard", locale), Verb.SNS_CAPTURE_DISCARD, locale),
    ]
    actions[0]["associatedInputs"] = "auto"
    actions[1]["associatedInputs"] = "none"
    return card(body, actions)


def no_case_card(notes: Sequence[Note], locale: Locale) -> Element:
    """No open SNS case yet: report one first (the collected items are kept)."""
    body = [heading(t("sns.capture.title", locale)), *notes_block(notes, locale)]
    body.append(text(t("sns.capture.no_case", locale)))
    actions = [execute(t("action.report", locale), Verb.REPORT_OPEN, locale, playbook=SNS_PLAYBOOK)]
    return card(body, actions)


def notes_card(notes: Sequence[Note], locale: Locale) -> Element:
    """Only notes: the message held nothing that could be preserved."""
    body = [heading(t("sns.capture.title", locale)), *notes_block(notes, locale)]
    body.append(text(t("sns.capture.nothing", locale)))
    return card(body)


def clock_line(
    posted_at: dt.datetime | None, now: dt.datetime, clock: LegalClock, locale: Locale
) -> Element:
    """Days since the post, with a warning when the access-log window is closing."""
    if posted_at is None:
        return text(t("sns.result.unknown_time", locale), size="Small", subtle=True)
    days = clock.days_since(posted_at, now)
    level = clock.level(posted_at, now)
    if level is ClockLevel.OK:
        return text(t("sns.result.days", locale, days=days), size="Small")
    key = "sns.result.warn" if level is ClockLevel.WARN else "sns.result.closed"
    values = {"days": days, "window": clock.window_days, "left": clock.days_left(posted_at, now)}
    return text(t(key, locale, **values), color="Attention", weight="Bolder")


def capture_result_card(
    result: CaptureResult, locale: Locale, *, now: dt.datetime, clock: LegalClock
) -> Element:
    """What was recorded: each post's entry number, platform, URL, hashes and legal clock."""
    body: list[Element] = [heading(t("sns.result.title", locale, id=result.case_id))]
    for post in result.posts:
        key = "sns.result.linked" if post.linked else "sns.result.entry"
        items = [
            text(
                t(key, locale, seq=post.seq, platform=platform_name(post.platform, locale)),
                weight="Bolder",
            ),
            text(plain(post.url[:300]), size="Small"),
        ]
        if post.posted_at:
            items.append(
                text(post.posted_at.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"), size="Small")
            )
        items += [text(f"SHA-256 `{s.sha256}`", size="Small") for s in post.screenshots]
        items.append(clock_line(post.posted_at, now, clock, locale))
        body.append(container(items, separator=True))
    body += notes_block(result.notes, locale)
    body.append(text(t("sns.protect.capture_hint", locale), size="Small", subtle=True))
    actions = [
        execute(t("sns.protect.title", locale), Verb.SNS_PROTECT, locale, case=result.case_id),
        execute(t("action.my_incidents", locale), Verb.MY_INCIDENTS, locale),
    ]
    return card(body, actions)


def protection_card(locale: Locale, *, deal: bool, case_id: str = "") -> Element:
    """Don't answer personally; the organisation's statement; the scripts one tap away."""
    body: list[Element] = [heading(t("sns.protect.title", locale))]
    scripts: tuple[str, ...] = ("phone-pile-on", *DEAL_SCRIPTS, "mail-request-to-stop")
    if deal:
        # The refusal comes first when the customer offers to delete for a favour.
        body.append(
            container([text(t("sns.protect.deal", locale), weight="Bolder")], style="attention")
        )
        scripts = (*DEAL_SCRIPTS, *CALL_SCRIPTS)
    body += [
        text("🚫 " + t("sns.protect.personal", locale), weight="Bolder"),
        text(t("sns.protect.statement_label", locale), weight="Bolder", separator=True),
        container([text(t("sns.protect.statement", locale))], style="emphasis"),
        text(t("sns.protect.scripts", locale), weight="Bolder", separator=True),
        text(t("sns.protect.capture_hint", locale), size="Small", subtle=True),
    ]
    actions = [
        execute(
            t(f"sns.script.{s}", locale), Verb.SHOW_SCRIPTS, locale, playbook=SNS_PLAYBOOK, script=s
        )
        for s in scripts
    ]
    extra = {"case": case_id} if case_id else {}
    actions.append(execute(t("sns.platforms.title", locale), Verb.SNS_PLATFORMS, locale, **extra))
    return card(body, actions)
