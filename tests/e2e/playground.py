"""Driving the Microsoft 365 Agents Playground web UI (0.2.28) the way a staff member would.

What the page looks like (learned from the running Playground, not documented by it):

- The personal chat is open at start. The compose box is a Lexical editor,
  ``[role=textbox][contenteditable=true][data-lexical-editor=true]``; the send
  button is ``button[aria-label="Send Message"]``.
- Every bot message body is a ``.fai-OutputCard``; a user's own message is not.
  A text reply renders as ``<p>`` inside it, an Adaptive Card as
  ``.ac-adaptiveCard`` (the adaptivecards JS renderer: ``.ac-textBlock``,
  ``.ac-actionSet``). The bot's display name is in ``[aria-label="Message author"]``.
- A card action is a ``<button>`` whose ``title`` and ``aria-label`` are the
  action's title. After an Action.Execute the card is replaced by the card of
  the invoke response, with a notice ``[aria-label="Display Invoked Message"]``
  ("Your response was sent to the app").
- The log panel on the right repeats message texts: never search the whole page
  for a text, only inside bot messages.
- On opening, the Playground sends installationUpdate and conversationUpdate; a
  greeting the bot sends then arrives a moment later (see ``wait_until_quiet``).

The helpers wait with bounded timeouts and, when they give up, say what the user
sees instead, so that a failing test explains itself.
"""

from __future__ import annotations

import time

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

COMPOSE_BOX = '[role="textbox"][contenteditable="true"][data-lexical-editor="true"]'
SEND_BUTTON = 'button[aria-label="Send Message"]'
BOT_MESSAGE = ".fai-OutputCard"
CARD = ".ac-adaptiveCard"
INVOKE_NOTICE = '[aria-label="Display Invoked Message"]'

DEFAULT_TIMEOUT = 30.0  # seconds; the bot answers in well under a second when healthy
_POLL = 0.2


def open_chat(page: Page, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Load the Playground at ``url`` and wait until the compose box is ready."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    page.locator(COMPOSE_BOX).wait_for(state="visible", timeout=timeout * 1000)
    wait_until_quiet(page)


def wait_until_quiet(page: Page, quiet: float = 1.5, timeout: float = 10.0) -> None:
    """Wait until no new bot message arrived for ``quiet`` seconds (at most ``timeout``).

    On opening, the Playground tells the bot it was installed and the bot may
    greet; waiting for that keeps a greeting from being taken for an answer.
    """
    deadline = time.monotonic() + timeout
    count, since = bot_message_count(page), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(_POLL)
        now = bot_message_count(page)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def bot_message_count(page: Page) -> int:
    """How many bot messages the chat shows."""
    return page.locator(BOT_MESSAGE).count()


def bot_messages(page: Page) -> list[str]:
    """The visible text of every bot message, oldest first."""
    return [text.strip() for text in page.locator(BOT_MESSAGE).all_inner_texts()]


def send_message(page: Page, text: str, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Type ``text`` in the compose box and send it, as a user would.

    Returns the number of bot messages shown before sending, to pass as ``after``
    to the ``wait_for_*`` helpers so that only answers to this message count.
    """
    before = bot_message_count(page)
    box = page.locator(COMPOSE_BOX)
    box.click(timeout=timeout * 1000)
    page.keyboard.type(text)
    page.locator(SEND_BUTTON).click(timeout=timeout * 1000)
    # The Playground empties the compose box once the message is posted.
    deadline = time.monotonic() + timeout
    while box.inner_text().strip():
        if time.monotonic() > deadline:
            raise AssertionError(f"the message {text!r} was not sent: it is still in the box")
        time.sleep(_POLL)
    return before


def _describe(page: Page) -> str:
    messages = bot_messages(page)
    if not messages:
        return "the chat shows no bot message"
    shown = "\n---\n".join(m[:500] for m in messages[-5:])
    return f"the last bot messages are:\n{shown}"


def _find_newest(
    page: Page, inner: str | None, text: str, after: int, *, in_title: bool
) -> Locator | None:
    """The newest bot message (or element ``inner`` of one) past index ``after`` showing ``text``.

    With ``in_title``, only the first text block (a card's heading) is searched.
    """
    messages = page.locator(BOT_MESSAGE)
    for index in range(messages.count() - 1, after - 1, -1):
        message = messages.nth(index)
        candidates = message.locator(inner) if inner else message
        for i in range(candidates.count() - 1, -1, -1):
            candidate = candidates.nth(i)
            if in_title:
                heading = candidate.locator(".ac-textBlock").first
                shown = heading.inner_text() if heading.count() else ""
            else:
                shown = candidate.inner_text()
            if text in shown:
                if in_title:
                    return candidate
                # Anchored on the text, not the position: a message that arrives meanwhile
                # (a proactive notice) must not shift the locator to another card.
                scope = page.locator(f"{BOT_MESSAGE} {inner}") if inner else messages
                return scope.filter(has_text=text).last
    return None


def _wait_for_bot_message(
    page: Page, inner: str | None, text: str, after: int, timeout: float, *, in_title: bool
) -> Locator:
    deadline = time.monotonic() + timeout
    while True:
        found = _find_newest(page, inner, text, after, in_title=in_title)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            what = "card titled" if in_title else ("card" if inner else "bot message")
            raise AssertionError(
                f"no {what} containing {text!r} appeared within {timeout:.0f}s; {_describe(page)}"
            )
        time.sleep(_POLL)


def wait_for_card_text(
    page: Page, text: str, *, after: int = 0, timeout: float = DEFAULT_TIMEOUT
) -> Locator:
    """Wait for an Adaptive Card from the bot that shows ``text`` anywhere; returns that card."""
    return _wait_for_bot_message(page, CARD, text, after, timeout, in_title=False)


def wait_for_card_title(
    page: Page, text: str, *, after: int = 0, timeout: float = DEFAULT_TIMEOUT
) -> Locator:
    """Wait for a card from the bot whose heading (first text block) shows ``text``."""
    return _wait_for_bot_message(page, CARD, text, after, timeout, in_title=True)


def wait_for_bot_text(
    page: Page, text: str, *, after: int = 0, timeout: float = DEFAULT_TIMEOUT
) -> Locator:
    """Wait for any bot message (text or card) that shows ``text``; returns that message."""
    return _wait_for_bot_message(page, None, text, after, timeout, in_title=False)


def card_actions(card: Locator) -> list[str]:
    """The titles of the action buttons a card shows."""
    buttons = card.locator(".ac-actionSet button[title]")
    return [buttons.nth(i).get_attribute("title") or "" for i in range(buttons.count())]


def click_card_action(
    page: Page, title: str, *, card: Locator | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Locator:
    """Click the action button titled ``title`` on ``card`` (default: the newest card).

    Returns the card that held the button. For an Action.Execute the Playground
    then replaces that card with the one the bot answered the invoke with.
    """
    if card is None:
        card = (
            page.locator(f"{BOT_MESSAGE} {CARD}")
            .filter(has=page.locator(f'button[title="{title}"]'))
            .last
        )
    button = card.locator(f'button[title="{title}"]').first
    try:
        button.wait_for(state="visible", timeout=timeout * 1000)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"no card action titled {title!r} is visible; {_describe(page)}"
        ) from None
    button.click(timeout=timeout * 1000)
    return card


def invoke_notice(page: Page) -> str | None:
    """The text of the newest notice the Playground shows after a card action, if any."""
    notices = page.locator(INVOKE_NOTICE)
    if not notices.count():
        return None
    return notices.last.inner_text().strip()


# --- Team channels (the managers' side)
#
# With a configuration file that defines a team (scripts/playground/manager.yml), the left
# pane lists its channels as ``button[role=treeitem]`` labelled "<team> - <channel>".
# A channel shows a "Start a new post" editor (the same Lexical editor as the chat's
# compose box, first on the page) with a "Post" button; each thread is a
# ``[role=group]`` card holding the root post and its replies. As in Teams, the bot
# receives a channel post only when it is @mentioned: type "@", pick the bot in the
# ``menuitem`` list, then the text. The bot's cards in a channel are ``.ac-adaptiveCard``
# inside a thread (no ``.fai-OutputCard`` there).

CHANNEL_THREAD = '[role="group"]'
CHANNEL_CARD = f"{CHANNEL_THREAD} {CARD}"


def open_channel(page: Page, team: str, channel: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Open ``channel`` of ``team`` from the left pane and wait for its new-post editor."""
    page.locator(f'button[role="treeitem"][aria-label="{team} - {channel}"]').click(
        timeout=timeout * 1000
    )
    page.get_by_role("button", name="Post", exact=True).wait_for(
        state="visible", timeout=timeout * 1000
    )
    wait_until_quiet(page)


def post_in_channel(
    page: Page, text: str, *, mention: str = "Mamoru", timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Start a new post "@<mention> <text>" in the open channel, as a user would."""
    box = page.locator(COMPOSE_BOX).first  # the new-post editor; thread replies come after
    box.click(timeout=timeout * 1000)
    page.keyboard.type("@")
    # The item's accessible name also holds its avatar's label: match on the visible text.
    page.get_by_role("menuitem").filter(has_text=mention).first.click(timeout=timeout * 1000)
    page.keyboard.type(f" {text}")
    page.get_by_role("button", name="Post", exact=True).click(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while box.inner_text().strip():
        if time.monotonic() > deadline:
            raise AssertionError(f"the post {text!r} was not sent: it is still in the editor")
        time.sleep(_POLL)


def channel_cards(page: Page) -> list[str]:
    """The visible text of every card the bot shows in the open channel."""
    return [t.strip() for t in page.locator(CHANNEL_CARD).all_inner_texts()]


def wait_for_channel_card(page: Page, text: str, *, timeout: float = DEFAULT_TIMEOUT) -> Locator:
    """Wait for a card in the open channel showing ``text``; returns a locator that keeps
    pointing at that card when the Playground re-renders or replaces it.
    """
    card = page.locator(CHANNEL_CARD).filter(has_text=text).last
    deadline = time.monotonic() + timeout
    while not card.count():
        if time.monotonic() > deadline:
            shown = "\n---\n".join(c[:400] for c in channel_cards(page)[-4:]) or "no card"
            raise AssertionError(
                f"no card containing {text!r} appeared in the channel within {timeout:.0f}s; "
                f"the channel shows:\n{shown}"
            )
        time.sleep(_POLL)
    return card
