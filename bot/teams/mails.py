"""The organisation's mails in Teams: review → (edit → preview) → 「この内容で送信」, once.

The dispatcher opens the named case for the clicker (anyone who may not see it gets
"not found"); every verb then asks the access rule whether they may act on it (a manager
of its department who is not involved: ``CaseAction.DECIDE``), and answers by replacing
the clicked card (the invoke response): the preview, the edit form with what blocks
sending, or the confirmation. The thread's card is refreshed for everyone after a
confirmation.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.cases.drafts import (
    ALREADY_SENT,
    BLOCKED,
    MAIL_KINDS,
    NO_DRAFT,
    STALE,
    OrgMails,
    SendRefused,
)
from bot.cases.escalation import Escalations
from bot.domain.access import CaseAction
from bot.domain.escalation import ActionKind, Decision, final_warning_proposal
from bot.domain.locale import Locale
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.incidents import person_of
from cards.i18n import t
from cards.notices import text_card
from cards.preview import edit_card, preview_card, sent_card
from cards.verbs import Verb

log = logging.getLogger(__name__)
MAX_FIELD = 200_000  # what a forged invoke may carry into the draft at most (kept, flagged)


def register(actions: ActionDispatcher, escalations: Escalations, mails: OrgMails) -> None:
    """Add the mail verbs."""

    def target(request: ActionRequest) -> tuple[str, ActionKind]:
        incident_id = request.data.get("incident")
        action = request.data.get("action")
        if not isinstance(incident_id, str) or not incident_id.startswith("KH-"):
            raise InvalidAction("This card does not refer to a case.")
        try:
            kind = ActionKind(str(action))
        except ValueError:
            raise InvalidAction("This card does not refer to a mail.") from None
        if kind not in MAIL_KINDS:
            raise InvalidAction("This card does not refer to a mail.")
        return incident_id, kind

    async def allowed(request: ActionRequest) -> bool:
        # Sending in the organisation's name is a decision: the same rule as approving.
        return request.open_case.may(CaseAction.DECIDE)

    def refused(locale: Locale, key: str) -> ActionResult:
        return ActionResult(replace=text_card(t(key, locale)))

    async def show(
        incident_id: str, kind: ActionKind, locale: Locale, note: str | None = None
    ) -> ActionResult:
        draft = await mails.get(incident_id, kind)
        if draft is None:
            return refused(locale, "mail.no_draft")
        if note is None and draft.state.value != "awaiting_confirmation":
            return ActionResult(replace=sent_card(kind, draft.mail, locale, key="mail.already"))
        findings = draft.findings
        if findings:
            return ActionResult(replace=edit_card(incident_id, kind, draft.mail, findings, locale))
        card = preview_card(incident_id, kind, draft.mail, findings, locale, note_key=note)
        return ActionResult(replace=card)

    @actions.on(Verb.MAIL_REVIEW)
    async def review(_context: Any, request: ActionRequest) -> ActionResult:
        incident_id, kind = target(request)
        if not await allowed(request):
            return refused(request.locale, "mail.not_allowed")
        return await show(incident_id, kind, request.locale)

    @actions.on(Verb.MAIL_EDIT)
    async def edit(_context: Any, request: ActionRequest) -> ActionResult:
        incident_id, kind = target(request)
        if not await allowed(request):
            return refused(request.locale, "mail.not_allowed")
        draft = await mails.get(incident_id, kind)
        if draft is None:
            return refused(request.locale, "mail.no_draft")
        if draft.state.value != "awaiting_confirmation":
            card = sent_card(kind, draft.mail, request.locale, key="mail.already")
            return ActionResult(replace=card)
        card = edit_card(incident_id, kind, draft.mail, draft.findings, request.locale)
        return ActionResult(replace=card)

    @actions.on(Verb.MAIL_PREVIEW)
    async def preview(_context: Any, request: ActionRequest) -> ActionResult:
        incident_id, kind = target(request)
        if not await allowed(request):
            return refused(request.locale, "mail.not_allowed")
        data = request.data
        try:
            draft = await mails.edit(
                incident_id,
                kind,
                to=str(data.get("to") or "")[:MAX_FIELD],
                subject=str(data.get("subject") or "")[:MAX_FIELD],
                body=str(data.get("body") or "")[:MAX_FIELD],
            )
        except SendRefused as exc:
            if exc.reason == NO_DRAFT or exc.draft is None:
                return refused(request.locale, "mail.no_draft")
            return ActionResult(
                replace=sent_card(kind, exc.draft.mail, request.locale, key="mail.already")
            )
        findings = draft.findings
        if findings:
            return ActionResult(
                replace=edit_card(incident_id, kind, draft.mail, findings, request.locale)
            )
        card = preview_card(incident_id, kind, draft.mail, findings, request.locale)
        return ActionResult(replace=card)

    @actions.on(Verb.MAIL_SEND)
    async def send(_context: Any, request: ActionRequest) -> ActionResult:
        incident_id, kind = target(request)
        person = person_of(request.sender)
        if not await allowed(request):
            return refused(request.locale, "mail.not_allowed")
        try:
            draft = await mails.confirm(incident_id, kind, str(request.data.get("digest")), person)
        except SendRefused as exc:
            log.info("incident %s: send of %s refused: %s", incident_id, kind.value, exc.reason)
            if exc.reason == STALE:
                return await show(incident_id, kind, request.locale, note="mail.stale")
            if exc.reason == BLOCKED:
                return await show(incident_id, kind, request.locale)
            if exc.reason == ALREADY_SENT and exc.draft is not None:
                card = sent_card(kind, exc.draft.mail, request.locale, key="mail.already")
                return ActionResult(replace=card)
            return refused(request.locale, "mail.no_draft")
        escalations.refresh_later(incident_id)
        return ActionResult(replace=sent_card(kind, draft.mail, request.locale, key="mail.queued"))

    @actions.on(Verb.MAIL_PREPARE)
    async def prepare(_context: Any, request: ActionRequest) -> ActionResult:
        """The final warning after the refusal (or with a recorded reason to skip it)."""
        incident_id, kind = target(request)
        person = person_of(request.sender)
        if not await allowed(request):
            return refused(request.locale, "mail.not_allowed")
        incident = await escalations.load(incident_id)
        view = await escalations.view(incident, viewer=person)
        approved = view.decided is not None and view.decided.decision is Decision.APPROVE
        reason = str(request.data.get("skip_reason") or "").strip()
        if reason:
            await mails.record_skip_reason(incident_id, reason, person)
            view = await escalations.view(incident, viewer=person)
        if (
            kind is not ActionKind.FINAL_WARNING
            or not approved
            or not final_warning_proposal(view.facts).available
        ):
            return refused(request.locale, "mail.not_yet")
        body = mails.compose(kind, incident, view.facts, person).body
        await mails.create(incident, kind, body, person, view.facts)
        escalations.refresh_later(incident_id)
        return await show(incident_id, kind, request.locale)
