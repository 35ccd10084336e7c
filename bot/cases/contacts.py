"""Who Mamoru can reach: each person's Teams id and personal-chat reference.

``ContactsMixin`` (part of ``Escalations``) keeps how to reach everyone who wrote to
Mamoru (registry kind ``user``): the Teams id gives managers their own view of a card,
the reference lets Mamoru write to them later. Registered off the reply path, in
batches, and only when something changed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.background import BackgroundWork
from bot.cases.staff_notices import USER
from bot.domain.incidents import Person
from bot.domain.ports import (
    Registry,
)


class ContactsMixin:
    """First contacts and changed references, registered in batches (``Escalations``)."""

    _registry: Registry
    _background: BackgroundWork
    _users: dict[str, dict[str, Any]]
    _to_remember: dict[str, Contact]
    _remembering: set[str]
    _registering: bool

    def remember_user_soon(
        self, person: Person, *, teams_id: str, reference: dict[str, Any] | None, upn: str = ""
    ) -> None:
        """``remember_user`` off the reply path: the turn's answer never waits for it.

        Turns of someone already known cost nothing. First contacts (or changed
        references) are registered in batches: when fifty people write at once, one read
        and one write transaction register them all, rather than fifty of each.
        """
        known = self._users.get(person.object_id)
        if known is not None and known == _user_record(known, person, teams_id, reference, upn):
            return
        if person.object_id in self._remembering:
            return  # their first turns arrive together: one registration is enough
        contact = Contact(person, teams_id, reference, upn)
        waiting = self._to_remember.get(person.object_id)
        # A click right after their first message (the registration waits for the answers
        # in progress) carries no chat reference: it must not replace the message's one,
        # or Mamoru could never tell them anything in their personal chat.
        self._to_remember[person.object_id] = contact.over(waiting) if waiting else contact
        if not self._registering:
            self._registering = True
            self._background.spawn(self._register_waiting(), name="first-contact registration")

    async def _register_waiting(self) -> None:
        try:
            while self._to_remember:
                await asyncio.sleep(0)  # the other turns of a burst join this batch
                batch, self._to_remember = self._to_remember, {}
                self._remembering.update(batch)
                try:
                    await self._remember_users(batch)
                finally:
                    self._remembering.difference_update(batch)
        finally:
            self._registering = False

    async def remember_user(
        self, person: Person, *, teams_id: str, reference: dict[str, Any] | None, upn: str = ""
    ) -> None:
        """Keep how to reach ``person``: Teams id (card views) and personal-chat reference."""
        await self._remember_users({person.object_id: Contact(person, teams_id, reference, upn)})

    async def _remember_users(self, contacts: dict[str, Contact]) -> None:
        # Runs for every turn's sender: compare with what this process last stored before
        # touching the database (a read per message doubled the cost of a guidance turn).
        unknown = [object_id for object_id in contacts if object_id not in self._users]
        stored = await self._registry.get_many(USER, unknown) if unknown else {}
        records: dict[str, dict[str, Any]] = {}
        changed: dict[str, dict[str, Any]] = {}
        for object_id, contact in contacts.items():
            known = self._users.get(object_id) or stored.get(object_id) or {}
            records[object_id] = record = _user_record(
                known, contact.person, contact.teams_id, contact.reference, contact.upn
            )
            if record != known:
                # Only what this turn knows, merged into the stored record: another instance
                # may have stored the rest meanwhile (a click carries no chat reference, and
                # writing back what was read before would erase the one just saved).
                fields = _user_record(
                    {}, contact.person, contact.teams_id, contact.reference, contact.upn
                )
                changed[object_id] = {name: value for name, value in fields.items() if value}
        await self._registry.merge_many(USER, changed)
        self._users.update(records)


@dataclass(frozen=True, slots=True)
class Contact:
    """What one turn says about how to reach its sender."""

    person: Person
    teams_id: str
    reference: dict[str, Any] | None
    upn: str

    def over(self, earlier: Contact) -> Contact:
        """This turn's contact, completed by what an earlier turn said and this one not."""
        return Contact(
            Person(
                object_id=self.person.object_id,
                display_name=self.person.display_name or earlier.person.display_name,
            ),
            self.teams_id or earlier.teams_id,
            self.reference or earlier.reference,
            self.upn or earlier.upn,
        )


def _user_record(
    known: dict[str, Any],
    person: Person,
    teams_id: str,
    reference: dict[str, Any] | None,
    upn: str,
) -> dict[str, Any]:
    return {
        "teams_id": teams_id or known.get("teams_id", ""),
        "name": person.display_name or known.get("name", ""),
        "upn": upn or known.get("upn", ""),
        "reference": reference or known.get("reference"),
    }
