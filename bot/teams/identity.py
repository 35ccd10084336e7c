"""Who is talking to Mamoru, read from the incoming activity."""

from __future__ import annotations

from dataclasses import dataclass

from microsoft_agents.activity import Activity

from bot.domain.incidents import Person


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
