"""The organisation mail's preview and edit cards: exactly what goes out, then one button.

The preview shows From, To, Subject and Body verbatim (the body in a monospace-free
TextBlock with wrapping, Markdown-looking text shown as typed) and 「この内容で送信」,
which carries the text's fingerprint. Anything blocking the send is listed first, and
then only the edit form is offered.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.escalation import ActionKind
from bot.domain.locale import Locale
from bot.domain.outgoing import MAX_BODY_CHARS, Finding, OutgoingMail
from cards.elements import Element, card, container, execute, heading, plain, text
from cards.i18n import t
from cards.status import action_name
from cards.verbs import Verb


def _verbatim(value: str) -> list[Element]:
    # One TextBlock per line (blank lines kept as space): hosts collapse single newlines
    # inside a TextBlock, and the preview must show the lines exactly as they are sent.
    # Shown through ``plain``: a name taken from the sender's From header is the sender's
    # text, and must not become a link or emphasis in a manager's card.
    return [text(plain(line) or " ", spacing="None") for line in value.split("\n")]


def findings_block(findings: Sequence[Finding], locale: Locale) -> Element:
    """The reasons the mail cannot be sent yet, one per line."""
    items: list[Element] = [text(t("mail.blocked", locale), weight="Bolder")]
    items += [
        text("・" + t(f"problem.{f.problem.value}", locale, detail=plain(f.detail)))
        for f in findings
    ]
    return container(items, style="attention")


def preview_card(
    incident_id: str,
    kind: ActionKind,
    mail: OutgoingMail,
    findings: Sequence[Finding],
    locale: Locale,
    *,
    note_key: str | None = None,
) -> Element:
    """The preview; 「この内容で送信」 only when nothing blocks sending."""
    body: list[Element] = [heading(t("mail.preview.title", locale, mail=action_name(kind, locale)))]
    if note_key:
        body.append(container([text(t(note_key, locale), weight="Bolder")], style="warning"))
    if findings:
        body.append(findings_block(findings, locale))
    else:
        body.append(text(t("mail.preview.lead", locale), size="Small", subtle=True))
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": t("mail.from", locale), "value": mail.sender or "-"},
                {"title": t("mail.to", locale), "value": plain(mail.to) or "-"},
                {"title": t("mail.subject", locale), "value": plain(mail.subject) or "-"},
            ],
        }
    )
    body.append(text(t("mail.body", locale), weight="Bolder", separator=True))
    body.append(container(_verbatim(mail.body[:MAX_BODY_CHARS]), style="emphasis"))
    data = {"incident": incident_id, "action": kind.value}
    actions: list[Element] = []
    if not findings:
        actions.append(
            execute(t("mail.send", locale), Verb.MAIL_SEND, locale, digest=mail.digest, **data)
        )
    actions.append(execute(t("mail.edit", locale), Verb.MAIL_EDIT, locale, **data))
    return card(body, actions)


def edit_card(
    incident_id: str,
    kind: ActionKind,
    mail: OutgoingMail,
    findings: Sequence[Finding],
    locale: Locale,
) -> Element:
    """The draft's To, Subject and Body as inputs, with what blocks sending above them."""
    body: list[Element] = [heading(t("mail.edit.title", locale, mail=action_name(kind, locale)))]
    if findings:
        body.append(findings_block(findings, locale))
    body.append(text(t("mail.edit.lead", locale), size="Small", subtle=True))
    body.append(
        {
            "type": "FactSet",
            "facts": [{"title": t("mail.from", locale), "value": mail.sender or "-"}],
        }
    )
    body += [
        {
            "type": "Input.Text",
            "id": "to",
            "label": t("mail.to", locale),
            "value": mail.to,
            "maxLength": 320,
        },
        {
            "type": "Input.Text",
            "id": "subject",
            "label": t("mail.subject", locale),
            "value": mail.subject,
            "maxLength": 200,
        },
        {
            "type": "Input.Text",
            "id": "body",
            "label": t("mail.body", locale),
            "isMultiline": True,
            # Shown in full, even past the limit: nothing typed is lost, the message says why.
            "value": mail.body,
        },
    ]
    data = {"incident": incident_id, "action": kind.value}
    return card(body, [execute(t("mail.preview", locale), Verb.MAIL_PREVIEW, locale, **data)])


def sent_card(kind: ActionKind, mail: OutgoingMail, locale: Locale, *, key: str) -> Element:
    """After 「この内容で送信」: queued once (or already sent), with what was confirmed."""
    return card(
        [
            heading(t("mail.preview.title", locale, mail=action_name(kind, locale))),
            container([text(t(key, locale, to=mail.to), weight="Bolder")], style="good"),
            {
                "type": "FactSet",
                "facts": [
                    {"title": t("mail.from", locale), "value": mail.sender or "-"},
                    {"title": t("mail.to", locale), "value": mail.to or "-"},
                    {"title": t("mail.subject", locale), "value": mail.subject or "-"},
                ],
            },
            container(_verbatim(mail.body[:MAX_BODY_CHARS]), style="emphasis"),
        ]
    )
