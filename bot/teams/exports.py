"""Handing an evidence bundle to its requester in Teams: "send again" and file consent.

The card button (``export.link``) gives only the bundle's requester a new way to get it:
with Teams file consent, a new consent card in their personal chat (the only place Teams
allows one); with single-use links (local runs), a link in their personal chat and, in
the thread, in the clicker's own view of the card (an invoke answer is shown to the
person who clicked). Anyone else is told the bundle is not theirs (or "not found" if
they may not see the case at all).

The ``fileConsent/invoke`` a consent card sends back is checked by
``bot.delivery.file_consent.FileConsent`` (the requester, once, in time, still allowed);
it is answered at once and the upload runs in the background, then the file card (or
what went wrong, with "send again") arrives in the same chat.
"""

from __future__ import annotations

import logging

from microsoft_agents.activity import Activity, ActivityTypes, Attachment
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState

from bot.cases.escalation import Escalations
from bot.delivery.bundles import DeliveryRefused
from bot.delivery.exports import LINK_LIFETIME, Exports
from bot.delivery.file_consent import (
    FILE_CONSENT_INVOKE,
    OFFER_LIFETIME,
    Accepted,
    Declined,
    FileConsent,
    file_info_attachment,
)
from bot.delivery.upload_session import Uploaded, UploadFailed
from bot.domain.errors import IncidentNotFound
from bot.domain.locale import Locale
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.identity import Sender, person_of
from bot.teams.messenger import Messenger, is_personal, reference_of
from bot.teams.replies import answer_invoke_ok, card_activity
from cards.exports import export_file_notice_card, export_notice_card, export_ready_card
from cards.i18n import t
from cards.notices import notice_card
from cards.verbs import Verb

log = logging.getLogger(__name__)
_OFFER_MINUTES = int(OFFER_LIFETIME.total_seconds() // 60)


def register(actions: ActionDispatcher, exports: Exports, escalations: Escalations) -> None:
    """Add the verb that offers a bundle to its requester again."""

    @actions.on(Verb.EXPORT_LINK)
    async def again(context: TurnContext, request: ActionRequest) -> ActionResult:
        export_id = request.data.get("export")
        if not isinstance(export_id, str) or not export_id:
            raise InvalidAction("This card does not refer to an evidence bundle.")
        person = person_of(request.sender)
        try:
            bundle = await exports.bundles.for_person(export_id, person)
        except DeliveryRefused as refused:
            if refused.reason in ("not-found", "no-access"):
                raise IncidentNotFound(str(request.data.get("incident", ""))) from None
            key = "export.not_yours" if refused.reason == "not-yours" else "export.expired"
            log.info("export delivery refused: %s", refused.reason)
            return ActionResult(replace=export_notice_card(key, request.locale))
        if exports.by_file:
            reached = await exports.deliver(bundle)
            key = "export.file.sent" if reached else "export.unreachable"
            return ActionResult(
                replace=export_notice_card(key, request.locale, minutes=_OFFER_MINUTES)
            )
        link = await exports.mint(export_id, person)
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        card = export_ready_card(
            link.incident_id,
            export_id,
            link.by_name,
            link.url,
            minutes,
            request.locale,
            title=link.name,
        )
        if is_personal(context.activity):
            return ActionResult(replace=card)
        # In the thread: the clicker's own view gets the link; a copy goes to their chat.
        # Each is a separate single-use link, so neither copy can use up the other.
        second = await exports.mint(export_id, person)
        reached = await escalations.notices.send_to(
            person.object_id,
            lambda locale: export_ready_card(
                second.incident_id,
                export_id,
                second.by_name,
                second.url,
                minutes,
                locale,
                title=second.name,
            ),
        )
        note = "export.sent" if reached else "export.unreachable"
        card["body"].append(export_notice_card(note, request.locale, minutes=minutes)["body"][0])
        return ActionResult(replace=card)


def register_file_consent(
    agent: AgentApplication[TurnState], consent: FileConsent, messenger: Messenger
) -> None:
    """Answer ``fileConsent/invoke``: check it, answer at once, upload in the background."""

    def selects(context: TurnContext) -> bool:
        activity = context.activity
        return activity.type == ActivityTypes.invoke and activity.name == FILE_CONSENT_INVOKE

    async def answer(context: TurnContext, _state: TurnState) -> None:
        activity = context.activity
        locale = Locale.from_tag(activity.locale)
        person = person_of(Sender.of(activity))
        reference = reference_of(activity)
        personal = (
            activity.conversation is not None
            and activity.conversation.conversation_type
            in (
                None,
                "personal",
            )
        )
        try:
            if not personal:  # Teams sends file consent only in a personal chat
                raise DeliveryRefused("not-found")
            outcome = await consent.answer(activity.value, person)
        except DeliveryRefused as refused:
            log.info("file consent refused: %s", refused.reason)
            await answer_invoke_ok(context)
            await context.send_activity(card_activity(_refusal(refused, activity, locale)))
            return
        await answer_invoke_ok(context)
        bundle = outcome.bundle
        if isinstance(outcome, Declined):
            card = export_file_notice_card(
                "export.file.declined", bundle.subject, bundle.id, locale, id=bundle.title
            )
            await context.send_activity(card_activity(card))
            return
        assert isinstance(outcome, Accepted)
        accepted = outcome

        async def then(result: Uploaded | UploadFailed) -> None:
            if isinstance(result, UploadFailed):
                reason = t(f"export.file.failed.{result.reason}", locale)
                card = export_file_notice_card(
                    "export.file.failed",
                    bundle.subject,
                    bundle.id,
                    locale,
                    id=bundle.title,
                    reason=reason,
                )
                await messenger.send(reference, card)
                return
            message = Activity(
                type=ActivityTypes.message,
                text=t("export.file.done", locale, id=bundle.title, sha256=result.sha256),
                attachments=[Attachment.model_validate(file_info_attachment(accepted.upload))],
            )
            await messenger.send_activity(reference, message)

        consent.start_upload(accepted, then)

    agent.add_route(selects, answer, is_invoke=True)


def _refusal(refused: DeliveryRefused, activity: Activity, locale: Locale) -> dict[str, object]:
    """What a refused consent answer shows: expired and used offer "send again"; the rest
    get the "case not found" answer an unknown case gets."""
    value = activity.value if isinstance(activity.value, dict) else {}
    returned = value.get("context")
    bundle_id = str(returned.get("bundle", "")) if isinstance(returned, dict) else ""
    if refused.reason in ("expired", "used") and bundle_id:
        key = "export.file.expired" if refused.reason == "expired" else "export.file.used"
        return export_file_notice_card(key, "", bundle_id, locale, minutes=_OFFER_MINUTES)
    return notice_card("app.name", "incident.unknown", locale)
