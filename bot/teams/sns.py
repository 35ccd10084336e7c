"""SNS cases in Teams: pasting post URLs and screenshots, the capture form, protection.

A personal-chat message carrying a URL-like piece or a file goes to the capture
(before guidance); everything else is left to the other routes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from microsoft_agents.hosting.core.app._routes.route_rank import RouteRank

from bot.config import Settings
from bot.domain.incidents import Incident, IncidentType
from bot.domain.locale import Locale
from bot.domain.sns import LegalClock, Platform, looks_like_capture, offers_deletion_deal
from bot.domain.sns_capture import Note
from bot.guidance.answer import choose_locale
from bot.sns.attachments import IncomingAttachment, TokenSource
from bot.sns.capture import NothingToRecord, SnsCapture
from bot.sns.form import InvalidCapture, parse_capture
from bot.sns.monitor import InvalidSpread, SpreadMonitor, parse_observation
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.identity import Sender
from bot.teams.incidents import person_of
from bot.teams.replies import send_card
from cards.i18n import t
from cards.notices import text_card
from cards.sns import (
    capture_form_card,
    capture_result_card,
    no_case_card,
    notes_card,
    platform_name,
    protection_card,
)
from cards.sns_monitor import spread_prompt_card, spread_recorded_card
from cards.sns_platforms import STATUSES, platforms_card
from cards.verbs import Verb

log = logging.getLogger(__name__)
BOT_FRAMEWORK = "https://api.botframework.com"
_NOT_FILES = ("text/html", "application/vnd.microsoft.card.")
# Before guidance (DEFAULT): a pasted URL is evidence, not a question. The SDK types rank
# as the enum but orders by its integer value.
_CAPTURE_RANK = cast(RouteRank, RouteRank.DEFAULT - 100)


def bot_token_source(settings: Settings) -> TokenSource:
    """The bot's own Bot Framework token (none in a local, anonymous run)."""
    if not settings.has_bot_identity:

        async def none() -> str | None:
            return None

        return none
    from microsoft_agents.authentication.msal import MsalAuth

    from bot.teams.hosting import auth_configuration

    auth = MsalAuth(auth_configuration(settings))

    async def token() -> str | None:
        return await auth.get_access_token(BOT_FRAMEWORK, [f"{BOT_FRAMEWORK}/.default"])

    return token


def incoming_attachments(activity: Any) -> list[IncomingAttachment]:
    """The files of a message as Teams described them (cards and HTML copies left out)."""
    found = []
    for attachment in activity.attachments or []:
        content_type = (attachment.content_type or "").lower()
        if content_type.startswith(_NOT_FILES):
            continue
        found.append(
            IncomingAttachment(
                content_type=content_type,
                content_url=attachment.content_url or "",
                name=attachment.name or "",
            )
        )
    return found


def protection_cards(incident: Incident, locale: Locale) -> list[dict[str, Any]]:
    """For an SNS case: the protection card (refusal script first if a deal was offered)."""
    if incident.type is not IncidentType.SNS_DEFAMATION:
        return []
    deal = offers_deletion_deal(incident.summary)
    return [protection_card(locale, deal=deal, case_id=incident.id)]


def register(
    app: AgentApplication[TurnState],
    actions: ActionDispatcher,
    capture: SnsCapture,
    *,
    legal_clock: LegalClock,
    post_to_thread: Callable[..., Awaitable[None]] | None = None,
) -> None:
    """Add the capture route and the SNS verbs (``post_to_thread``: tell the managers)."""

    def is_capture(context: TurnContext) -> bool:
        activity = context.activity
        if activity.type != ActivityTypes.message or activity.value:
            return False
        conversation = activity.conversation
        if conversation is None or (conversation.conversation_type or "personal") != "personal":
            return False
        return bool(incoming_attachments(activity)) or looks_like_capture(activity.text or "")

    async def on_capture(context: TurnContext, _state: TurnState) -> None:
        activity = context.activity
        sender = Sender.of(activity)
        person = person_of(sender)
        locale = choose_locale(activity.locale, activity.text or "")
        pending, notes = await capture.collect(
            person, activity.text or "", incoming_attachments(activity), activity.service_url or ""
        )
        if pending.empty:
            await send_card(context, notes_card(notes, locale))
            return
        cases = await capture.open_cases(person)
        if not cases:
            await send_card(context, no_case_card(notes, locale))
            return
        await send_card(context, capture_form_card(pending, cases, locale, notes=notes))

    # Before guidance (DEFAULT): a pasted URL is evidence, not a question.
    app.add_route(is_capture, on_capture, rank=_CAPTURE_RANK)

    @actions.on(Verb.SNS_CAPTURE_SUBMIT)
    async def submit(_context: TurnContext, request: ActionRequest) -> ActionResult:
        person = person_of(request.sender)

        async def form_again(**kwargs: Any) -> ActionResult:
            pending = await capture.pending(person)
            cases = await capture.open_cases(person)
            if not cases:
                return ActionResult(replace=no_case_card((), request.locale))
            return ActionResult(
                replace=capture_form_card(
                    pending, cases, request.locale, values=request.data, **kwargs
                )
            )

        try:
            form = parse_capture(request.data)
        except InvalidCapture as invalid:
            log.info("capture form rejected: %s", ", ".join(p.field for p in invalid.problems))
            return await form_again(problems=invalid.problems)
        try:
            result = await capture.submit(person, form)
        except NothingToRecord as nothing:
            return await form_again(notes=(Note(nothing.key),))
        new = [p for p in result.posts if not p.linked]
        if new and post_to_thread is not None:
            entries = ", ".join(
                f"#{p.seq} {p.platform.value} ({len(p.screenshots)} img)" for p in new
            )
            await post_to_thread(
                result.case_id,
                "sns.thread.recorded",
                id=result.case_id,
                n=len(new),
                entries=entries,
            )
        return ActionResult(
            replace=capture_result_card(
                result, request.locale, now=capture.now(), clock=legal_clock
            )
        )

    @actions.on(Verb.SNS_CAPTURE_DISCARD)
    async def discard(_context: TurnContext, request: ActionRequest) -> ActionResult:
        await capture.discard(person_of(request.sender))
        return ActionResult(replace=text_card(t("sns.capture.discarded", request.locale)))

    @actions.on(Verb.SNS_PROTECT)
    async def protect(_context: TurnContext, request: ActionRequest) -> ActionResult:
        case_id = request.data.get("case")
        deal = False
        if isinstance(case_id, str) and case_id:
            incident = await capture.case_for(person_of(request.sender), case_id)
            deal = offers_deletion_deal(incident.summary)
        return ActionResult(
            replace=protection_card(request.locale, deal=deal, case_id=str(case_id or ""))
        )

    @actions.on(Verb.SNS_PLATFORMS)
    async def platforms(_context: TurnContext, request: ActionRequest) -> ActionResult:
        case_id = request.data.get("case")
        found: list[Platform] = []
        if isinstance(case_id, str) and case_id:
            await capture.case_for(person_of(request.sender), case_id)
            found = [p.platform for p in (await capture.recorded_posts(case_id)).values()]
        return ActionResult(
            replace=platforms_card(request.locale, case_id=str(case_id or ""), platforms=found)
        )

    @actions.on(Verb.SNS_PLATFORM_REPORTED)
    async def platform_reported(_context: TurnContext, request: ActionRequest) -> ActionResult:
        data = request.data
        case_id, status = data.get("case"), data.get("status")
        try:
            platform = Platform(str(data.get("platform")))
        except ValueError:
            raise InvalidAction("Choose the platform the post was reported to.") from None
        if not isinstance(case_id, str) or status not in STATUSES:
            raise InvalidAction("The report record is incomplete.")
        answer = str(data.get("answer") or "").strip()[:2000]
        # Kept in Japanese whatever the UI language: the evidence log is read by Japanese
        # lawyers and police. Who reported and when are the entry's recorded_by / recorded_at.
        note = t(
            "sns.platforms.note",
            Locale.JA,
            platform=platform_name(platform, Locale.JA),
            status=t(f"sns.platforms.status.{status}", Locale.JA),
        )
        person = person_of(request.sender)
        seq = await capture.record_note(person, case_id, f"{note}\n{answer}".strip())
        recorded = t("sns.platforms.recorded", request.locale, id=case_id, seq=seq)
        return ActionResult(
            replace=platforms_card(
                request.locale, case_id=case_id, platforms=[platform], recorded=recorded
            )
        )


def register_monitor(actions: ActionDispatcher, monitor: SpreadMonitor) -> None:
    """Add the verb answering a spread-monitoring prompt (the answer becomes evidence)."""

    @actions.on(Verb.SNS_MONITOR_ANSWER)
    async def answer(_context: TurnContext, request: ActionRequest) -> ActionResult:
        case_id, prompt = request.data.get("case"), request.data.get("prompt")
        if not isinstance(case_id, str) or not isinstance(prompt, int):
            raise InvalidAction("The card does not name a case and prompt.")
        try:
            observation, notes = parse_observation(request.data)
        except InvalidSpread:
            problem = t("sns.monitor.bad_number", request.locale)
            return ActionResult(
                replace=spread_prompt_card(case_id, prompt, request.locale, problem=problem)
            )
        seq = await monitor.record(person_of(request.sender), case_id, prompt, observation)
        return ActionResult(
            replace=spread_recorded_card(case_id, seq, observation, request.locale, notes)
        )
