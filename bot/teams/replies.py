"""Sending cards and answering invokes, the same way from every route."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    Attachment,
    InvokeResponse,
)
from microsoft_agents.hosting.core import TurnContext

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def card_activity(card: dict[str, Any]) -> Activity:
    """A message activity carrying one Adaptive Card."""
    return Activity(
        type=ActivityTypes.message,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
    )


async def send_card(context: TurnContext, card: dict[str, Any]) -> str | None:
    """Send ``card`` as a new message; returns the new activity id (to update it later)."""
    response = await context.send_activity(card_activity(card))
    return response.id if response else None


async def answer_invoke_with_card(context: TurnContext, card: dict[str, Any]) -> None:
    """Answer an ``adaptiveCard/action`` invoke by replacing the clicked card with ``card``."""
    body = AdaptiveCardInvokeResponse(
        status_code=HTTPStatus.OK, type=ADAPTIVE_CARD, value=json.loads(json.dumps(card))
    )
    await _invoke_response(context, HTTPStatus.OK, body)


async def answer_invoke_with_message(context: TurnContext, message: str) -> None:
    """Answer an invoke with a short message (Teams shows it as a toast)."""
    body = AdaptiveCardInvokeResponse(
        status_code=HTTPStatus.OK, type="application/vnd.microsoft.activity.message", value=message
    )
    await _invoke_response(context, HTTPStatus.OK, body)


async def answer_invoke_ok(context: TurnContext) -> None:
    """Answer an invoke that needs no body (``fileConsent/invoke``) with 200."""
    await context.send_activity(
        Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=HTTPStatus.OK))
    )


async def answer_invoke_error(context: TurnContext, status: HTTPStatus, message: str) -> None:
    """Answer an invoke with an Adaptive Card error body (bad request, not supported...)."""
    body = AdaptiveCardInvokeResponse(
        status_code=status,
        type="application/vnd.microsoft.error",
        value={"code": status.phrase.replace(" ", ""), "message": message},
    )
    await _invoke_response(context, HTTPStatus.OK, body)


async def _invoke_response(
    context: TurnContext, status: HTTPStatus, body: AdaptiveCardInvokeResponse
) -> None:
    await context.send_activity(
        Activity(
            type=ActivityTypes.invoke_response,
            value=InvokeResponse(
                status=int(status),
                body=body.model_dump(mode="json", by_alias=True, exclude_none=True),
            ),
        )
    )
