"""Short notice cards: talk to my manager, errors with a reference, stale buttons, and the
staff member's honest case notices (what was done, what is open and whose it is).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.incidents import JST
from bot.domain.locale import Locale
from cards.elements import Element, card, container, execute, heading, next_steps, plain, text
from cards.i18n import t
from cards.status import ActionLine, Status, action_name, describe
from cards.verbs import Verb


def manager_card(locale: Locale, *, playbook_id: str | None = None) -> Element:
    """How to bring in a manager: report, and what happens next."""
    return card(
        [heading(t("manager.title", locale), size="Large"), text(t("manager.body", locale))],
        next_steps(locale, playbook_id=playbook_id)[:1],
    )


def notice_card(title_key: str, body_key: str, locale: Locale) -> Element:
    """A titled notice with a way back to the menu."""
    return card(
        [heading(t(title_key, locale)), text(t(body_key, locale))],
        [execute(t("action.menu", locale), Verb.SHOW_MENU, locale)],
    )


def error_card(locale: Locale, reference: str) -> Element:
    """Something failed on our side: say so, give a reference id IT can find in the logs."""
    return card(
        [
            heading(t("error.title", locale)),
            text(t("error.body", locale)),
            text(t("error.reference", locale, reference=reference), size="Small", subtle=True),
        ],
        [execute(t("action.menu", locale), Verb.SHOW_MENU, locale)],
    )


def text_card(message: str) -> Element:
    """A card with one sentence (proactive notices)."""
    return card([text(message)])


def notice_element(key: str, locale: Locale) -> Element:
    """A highlighted one-line notice, to put at the top of another card."""
    return container([text(t(key, locale), weight="Bolder")], style="warning")


def case_notice_card(
    incident_id: str,
    lines: Sequence[ActionLine],
    locale: Locale,
    *,
    title_key: str,
    manager: str,
    comment: str = "",
    open_tasks: Sequence[str] = (),
) -> Element:
    """What was done, what is still open and who owns it, and the manager's comment."""
    done = [line for line in lines if line.status.done]
    still_open = [line for line in lines if not line.status.done]
    body: list[Element] = [
        heading(t(title_key, locale, id=incident_id, name=plain(manager) or "-"))
    ]
    if done:
        body.append(text(t("notice.done", locale), weight="Bolder"))
        body += [text("☑ " + plain(_done_line(line, locale)), spacing="None") for line in done]
    body.append(text(t("notice.open", locale), weight="Bolder"))
    if still_open or open_tasks:
        body += [text("☐ " + plain(describe(line, locale)), spacing="None") for line in still_open]
        body += [text("☐ " + plain(task), spacing="None") for task in open_tasks]
    else:
        body.append(text(t("notice.none_open", locale), spacing="None"))
    if comment:
        body.append(text(t("notice.comment", locale, comment=plain(comment[:500])), separator=True))
    body.append(text(t("notice.no_reply", locale), size="Small", subtle=True))
    return card(body)


def rejection_notice_card(
    incident_id: str, locale: Locale, *, manager: str, comment: str
) -> Element:
    """A rejection tells the staff member who decided and why."""
    return card(
        [
            heading(t("notice.rejected", locale, id=incident_id, name=plain(manager) or "-")),
            text(t("notice.reason", locale, comment=plain(comment[:500]) or "-")),
            text(t("notice.talk", locale), size="Small", subtle=True),
        ]
    )


def _done_line(line: ActionLine, locale: Locale) -> str:
    at = line.at.astimezone(JST).strftime("%m/%d %H:%M") if line.at else ""
    if line.kind.value == "mail-protection":
        return t("notice.rule", locale, count=line.total or line.done)
    if line.status is Status.SENT:
        return t("notice.mail_sent", locale, mail=action_name(line.kind, locale), to=line.to, at=at)
    return describe(line, locale)
