"""Who is talking to Mamoru, read from the incoming activity, and how to reach them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity

from bot.domain.incidents import Person
from bot.domain.locale import Locale
from bot.teams.messenger import reference_of


@dataclass(frozen=True, slots=True)
class Sender:
    """The person behind an activity: Entra object id, Teams id (``29:...``) and name."""

    aad_object_id: str
    teams_id: str
    name: str
    tenant_id: str

    @classmethod
    def of(cls, activity: Activity) -> Sender:
        """The sender of ``activity`` (empty strings where Teams sent nothing)."""
        who = activity.from_property
        tenant = activity.conversation.tenant_id if activity.conversation else None
        return cls(
            aad_object_id=(who.aad_object_id if who else None) or "",
            teams_id=(who.id if who else None) or "",
            name=(who.name if who else None) or "",
            tenant_id=tenant or "",
        )


def person_of(sender: Sender) -> Person:
    """The sender as a case participant (Entra object id, else the Teams id)."""
    return Person(object_id=sender.aad_object_id or sender.teams_id, display_name=sender.name)


class ChatReferences:
    """Each sender's personal-chat reference, computed again only when their addressing changes.

    The before-turn hook hands every message's reference to the registration
    (``Escalations.remember_user_soon``), which compares it with what it stored. Building
    it (the SDK's ``get_conversation_reference`` and a JSON dump) was most of the hook's
    cost on every turn, while it changes only when Teams addresses the person differently
    (another chat, service URL, name, or the language they write in). What it is built
    from is compared instead; the registration still gets the reference every turn and
    decides, as before, whether anything needs storing (so a failed write is retried).
    One entry per person who wrote since the process started.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[object, ...], dict[str, Any]]] = {}

    def of(self, activity: Activity, locale: Locale) -> dict[str, Any]:
        """The reference for a personal-chat ``activity``, answered in ``locale``.

        The same dict as the sender's last one when nothing it is built from changed;
        callers must not change it.
        """
        who = activity.from_property
        source = (
            who,
            activity.recipient,
            activity.conversation,
            activity.channel_id,
            activity.service_url,
            activity.locale,
            locale,
        )
        key = (who.aad_object_id or who.id or "") if who else ""
        last = self._last.get(key)
        if last is not None and last[0] == source:
            return last[1]
        reference = reference_of(activity)
        # Notices later follow the language the person last wrote in.
        reference["locale"] = locale.value
        self._last[key] = (source, reference)
        return reference
