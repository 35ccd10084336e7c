"""Bundles into the requester's own OneDrive, through Teams' file consent card.

Teams lets a bot send a file only in a personal chat and only with the person's consent:
the bot sends an ``application/vnd.microsoft.teams.card.file.consent`` attachment (file
name, size, description, and a context returned on accept or decline); the person
accepts or declines; Teams then sends the invoke ``fileConsent/invoke`` whose value has
``action`` (``accept``/``decline``), the ``context`` and, on accept, ``uploadInfo``
(``name``, ``uploadUrl``, ``contentUrl``, ``uniqueId``, ``fileType``). The bot puts the
bytes into ``uploadUrl`` (a OneDrive upload session: ``upload_session``) and then shows
the file with an ``application/vnd.microsoft.teams.card.file.info`` attachment.
(learn.microsoft.com: "Send and receive files using bot"; the manifest needs
``supportsFiles``.)

What the invoke must prove before any byte moves: the offer it names exists, was made
to this very person (``from.aadObjectId``, vouched for by the Bot Framework token), is
not older than ``OFFER_LIFETIME`` and has not been answered before (an at-most-once
marker), the bundle is fresh and the person may still receive it (the bundle kind's
access rule, asked again now), and the upload URL is a OneDrive host. A refused offer
leaves the bundle where it was: a new offer can be asked for from the card.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.background import DRAIN_SECONDS, BackgroundWork
from bot.delivery.bundles import Bundle, Bundles, DeliveryRefused
from bot.delivery.upload_session import Uploaded, UploadFailed, UploadHosts, upload_file
from bot.domain.incidents import Person
from bot.domain.ports import Clock, Registry

log = logging.getLogger(__name__)
OFFER = "export-offer"  # registry kind: offer id -> {bundle, by, expires}
OFFER_LIFETIME = dt.timedelta(minutes=30)
FILE_CONSENT_CARD = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CARD = "application/vnd.microsoft.teams.card.file.info"
FILE_CONSENT_INVOKE = "fileConsent/invoke"


class UploadInfo(BaseModel):
    """Where Teams wants the file: ``uploadInfo`` of an accept invoke."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    name: str = Field(min_length=1, max_length=400)
    upload_url: str = Field(alias="uploadUrl", min_length=1, max_length=8000)
    content_url: str = Field(alias="contentUrl", min_length=1, max_length=8000)
    unique_id: str = Field(alias="uniqueId", min_length=1, max_length=400)
    file_type: str = Field(default="", alias="fileType", max_length=50)


class ConsentAnswer(BaseModel):
    """The value of a ``fileConsent/invoke``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    action: str
    context: dict[str, Any] = Field(default_factory=dict)
    upload_info: UploadInfo | None = Field(default=None, alias="uploadInfo")


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted offer, checked: the bundle and where it goes."""

    bundle: Bundle
    upload: UploadInfo


@dataclass(frozen=True, slots=True)
class Declined:
    """A declined offer: the bundle stays where it is."""

    bundle: Bundle


class FileConsent:
    """Mints file consent offers and turns a person's answer into an upload, once."""

    def __init__(
        self,
        *,
        bundles: Bundles,
        registry: Registry,
        once: Callable[[str], Awaitable[bool]],
        clock: Clock,
        hosts: UploadHosts,
    ) -> None:
        self._bundles = bundles
        self._registry = registry
        self._once = once  # the job queue's at-most-once marker
        self._clock = clock
        self._hosts = hosts
        self._http: aiohttp.ClientSession | None = None
        self._background = BackgroundWork("bundle upload failed")

    async def offer(self, bundle: Bundle, description: str) -> dict[str, Any]:
        """A new consent card attachment for ``bundle``, valid ``OFFER_LIFETIME``, once."""
        offer_id = secrets.token_urlsafe(16)
        await self._registry.put(
            OFFER,
            offer_id,
            {
                "bundle": bundle.id,
                "by": bundle.by.object_id,
                "expires": (self._clock.now() + OFFER_LIFETIME).isoformat(),
            },
        )
        size = bundle.path.stat().st_size
        context = {"offer": offer_id, "bundle": bundle.id}
        return {
            "contentType": FILE_CONSENT_CARD,
            "name": bundle.filename,
            "content": {
                "description": description,
                "sizeInBytes": size,
                "acceptContext": context,
                "declineContext": context,
            },
        }

    async def answer(self, value: object, person: Person) -> Accepted | Declined:
        """Check an invoke's answer for ``person``; ``DeliveryRefused`` with the reason."""
        try:
            answer = ConsentAnswer.model_validate(value)
        except ValidationError:
            raise DeliveryRefused("not-found") from None
        offer_id = answer.context.get("offer")
        if not isinstance(offer_id, str) or not 0 < len(offer_id) <= 64:
            raise DeliveryRefused("not-found")
        offer = await self._registry.get(OFFER, offer_id)
        # Someone else's offer gets the answer an unknown one gets: it exists only in the
        # requester's own chat, so anyone else naming it forged the invoke.
        if offer is None or offer.get("by") != person.object_id:
            log.info("file consent refused: unknown offer or not the requester's")
            raise DeliveryRefused("not-found")
        if self._clock.now() > dt.datetime.fromisoformat(str(offer["expires"])):
            raise DeliveryRefused("expired")
        if answer.action not in ("accept", "decline"):
            raise DeliveryRefused("not-found")
        bundle = await self._bundles.for_person(str(offer["bundle"]), person)
        if answer.action == "accept":
            upload = answer.upload_info
            if upload is None or not (
                self._hosts.allows(upload.upload_url) and self._hosts.allows(upload.content_url)
            ):
                log.warning("file consent refused: upload URL not on a OneDrive host")
                raise DeliveryRefused("not-found")
        # Answered once: a second accept (another upload session) or a replayed invoke
        # finds the marker taken, whichever answer came first.
        if not await self._once(f"export-offer:{offer_id}"):
            raise DeliveryRefused("used")
        if answer.action == "decline":
            log.info("bundle offer declined by its requester")
            return Declined(bundle)
        assert answer.upload_info is not None
        return Accepted(bundle, answer.upload_info)

    def start_upload(
        self, accepted: Accepted, then: Callable[[Uploaded | UploadFailed], Awaitable[None]]
    ) -> None:
        """Upload in the background (the invoke is answered at once), then call ``then``."""

        async def run() -> None:
            try:
                result: Uploaded | UploadFailed = await upload_file(
                    await self._session(),
                    accepted.upload.upload_url,
                    accepted.bundle.path,
                    hosts=self._hosts,
                )
                log.info("bundle %s uploaded to its requester's OneDrive", accepted.bundle.id)
            except UploadFailed as failed:
                log.warning("bundle upload failed: %s", failed.reason)
                result = failed
            except OSError as exc:  # the bundle file went missing
                log.warning("bundle upload failed: %s", type(exc).__name__)
                result = UploadFailed("gone", "bundle file")
            await then(result)

        self._background.spawn(run(), name=f"upload of bundle {accepted.bundle.id}")

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for uploads under way (tests, shutdown); ``PendingWork`` if stuck."""
        await self._background.drain(timeout)

    async def aclose(self) -> None:
        """Close the HTTP session uploads use."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # No default headers: an upload session must never see a token.
            self._http = aiohttp.ClientSession()
        return self._http


def file_info_attachment(upload: UploadInfo) -> dict[str, Any]:
    """The card that shows the uploaded file in the chat (open, preview, download)."""
    return {
        "contentType": FILE_INFO_CARD,
        "contentUrl": upload.content_url,
        "name": upload.name,
        "content": {"uniqueId": upload.unique_id, "fileType": upload.file_type},
    }


__all__ = [
    "FILE_CONSENT_INVOKE",
    "OFFER_LIFETIME",
    "Accepted",
    "Declined",
    "FileConsent",
    "UploadInfo",
    "file_info_attachment",
]
