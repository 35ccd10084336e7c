"""Finished bundles waiting for their requester: what, whose, since when, about what.

A bundle is any file made for one person who was allowed to ask for it: a case's evidence
export today, an organisation-wide bundle tomorrow. ``kind`` names the access rule that
is asked again whenever the file is handed out (``Receivers``), so someone who lost the
right between asking and accepting gets nothing. Records live in the registry for
``BUNDLE_LIFETIME``; the file itself stays in the exports folder and the evidence store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.domain.incidents import Person
from bot.domain.ports import Clock, Registry

BUNDLE = "export-bundle"  # registry kind: bundle id -> Bundle.record()
BUNDLE_LIFETIME = dt.timedelta(hours=24)  # a finished bundle can be handed out this long
CASE_BUNDLE = "case"  # a case's evidence export: its subject is the case id
# An organisational case's combined bundle: its subject is the oldest member exported (a
# case id, for the cards' buttons); its rule asks about every member.
ORG_BUNDLE = "org-case"


class DeliveryRefused(Exception):
    """Nothing for this person: ``reason`` is ``not-found``, ``not-yours``, ``expired``,
    ``used`` or ``no-access`` (they may no longer receive what it is about)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Bundle:
    """A finished bundle and who may receive it."""

    id: str
    path: Path
    filename: str  # the name the person sees
    subject: str  # what it is about (a case id), for the access rule and the cards
    by: Person  # the only person it is for
    at: dt.datetime
    kind: str = CASE_BUNDLE
    title: str = ""  # what it is called on cards ("" for the subject)

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.subject)

    def record(self) -> dict[str, str]:
        """The registry record."""
        return {
            "path": str(self.path),
            "filename": self.filename,
            "incident": self.subject,
            "name": self.title,
            "kind": self.kind,
            "by": self.by.object_id,
            "by_name": self.by.display_name,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_record(cls, bundle_id: str, record: Mapping[str, object]) -> Bundle:
        """The bundle a registry record describes."""
        path = Path(str(record["path"]))
        return cls(
            id=bundle_id,
            path=path,
            filename=str(record.get("filename") or path.name),
            subject=str(record["incident"]),
            title=str(record.get("name") or record["incident"]),
            kind=str(record.get("kind") or CASE_BUNDLE),
            by=Person(str(record["by"]), str(record.get("by_name", ""))),
            at=dt.datetime.fromisoformat(str(record["at"])),
        )


# May this person (still) receive a bundle about this subject? One rule per bundle kind.
Receivers = Mapping[str, Callable[[str, Person], Awaitable[bool]]]


class Bundles:
    """Keeps bundle records and hands a bundle only to its requester, while it is fresh."""

    def __init__(self, registry: Registry, clock: Clock, receivers: Receivers) -> None:
        self._registry = registry
        self._clock = clock
        self._receivers = receivers

    async def add(self, bundle: Bundle) -> None:
        """Record a finished bundle."""
        await self._registry.put(BUNDLE, bundle.id, bundle.record())

    async def get(self, bundle_id: str) -> Bundle | None:
        """The bundle recorded under ``bundle_id``, if any."""
        if not bundle_id or len(bundle_id) > 128:
            return None
        record = await self._registry.get(BUNDLE, bundle_id)
        return Bundle.from_record(bundle_id, record) if record is not None else None

    async def for_person(self, bundle_id: str, person: Person) -> Bundle:
        """The bundle if ``person`` asked for it, it is fresh and they may still receive it."""
        bundle = await self.get(bundle_id)
        if bundle is None:
            raise DeliveryRefused("not-found")
        if bundle.by.object_id != person.object_id:
            raise DeliveryRefused("not-yours")
        if self._clock.now() - bundle.at > BUNDLE_LIFETIME:
            raise DeliveryRefused("expired")
        if not await self.may_receive(bundle, person):
            raise DeliveryRefused("no-access")
        return bundle

    async def may_receive(self, bundle: Bundle, person: Person) -> bool:
        """The bundle kind's access rule, asked now (an unknown kind: nobody)."""
        rule = self._receivers.get(bundle.kind)
        return rule is not None and await rule(bundle.subject, person)


__all__ = [
    "BUNDLE",
    "BUNDLE_LIFETIME",
    "CASE_BUNDLE",
    "ORG_BUNDLE",
    "Bundle",
    "Bundles",
    "DeliveryRefused",
    "Receivers",
]
