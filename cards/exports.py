"""Evidence-bundle delivery cards: the requester's link or file notices, the thread's notice."""

from __future__ import annotations

from bot.domain.locale import Locale
from cards.elements import Element, card, container, execute, heading, plain, text
from cards.i18n import t
from cards.verbs import Verb


def export_ready_card(
    incident_id: str,
    export_id: str,
    name: str,
    url: str,
    minutes: int,
    locale: Locale,
    *,
    title: str = "",
) -> Element:
    """The requester's card: a download button (single-use link) and a way to get a new one.

    ``title``: what the bundle is of when it is not the case alone (an organisational case).
    """
    return card(
        [
            heading(t("export.ready.title", locale, id=title or incident_id)),
            text(t("export.ready.body", locale, minutes=minutes, name=plain(name))),
        ],
        [
            {"type": "Action.OpenUrl", "title": t("export.download", locale), "url": url},
            _new_link(incident_id, export_id, locale),
        ],
    )


def export_thread_card(
    incident_id: str,
    export_id: str,
    name: str,
    *,
    reachable: bool,
    locale: Locale,
    title: str = "",
    by_file: bool = False,
) -> Element:
    """The thread's notice: the bundle is ready, where it went, and how to fix delivery."""
    key = "export.thread" if reachable else "export.thread.unreachable"
    if by_file:
        key = key.replace("export.thread", "export.file.thread")
    style = "default" if reachable else "warning"
    shown = title or incident_id
    return card(
        [container([text(t(key, locale, id=shown, name=plain(name)))], style=style)],
        [_new_link(incident_id, export_id, locale, by_file=by_file)],
    )


def export_notice_card(key: str, locale: Locale, **values: object) -> Element:
    """A short answer to a link request (sent to the personal chat, not reachable, not yours)."""
    return card([text(t(key, locale, **values), weight="Bolder")])


def export_file_notice_card(
    key: str,
    incident_id: str,
    export_id: str,
    locale: Locale,
    *,
    again: bool = True,
    **values: object,
) -> Element:
    """What became of a file offer (declined, expired, failed), with "send again" if useful."""
    actions = [_new_link(incident_id, export_id, locale, by_file=True)] if again else []
    return card([text(t(key, locale, **values))], actions)


def _new_link(
    incident_id: str, export_id: str, locale: Locale, *, by_file: bool = False
) -> Element:
    return execute(
        t("export.file.again" if by_file else "export.new_link", locale),
        Verb.EXPORT_LINK,
        locale,
        incident=incident_id,
        export=export_id,
    )
