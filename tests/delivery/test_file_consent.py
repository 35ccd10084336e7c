"""A consent answer is checked again at accept time: the access rule, the bundle's age, kinds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Settings
from bot.delivery.bundles import Bundle, Bundles, DeliveryRefused
from bot.delivery.file_consent import Accepted, FileConsent
from bot.delivery.upload_session import UploadHosts
from bot.domain.incidents import Person
from bot.store.registry import MemoryRegistry

REQUESTER = Person("aad-manager-1", "山田 課長")
ONEDRIVE = "https://contoso-my.sharepoint.com"


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.at


class Rule:
    """The access rule of the bundle kind, switchable (someone moves department)."""

    def __init__(self) -> None:
        self.allowed = True

    async def __call__(self, subject: str, person: Person) -> bool:
        return self.allowed and person == REQUESTER and subject == "KH-2026-0001"


class Once:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def __call__(self, key: str) -> bool:
        fresh = key not in self.keys
        self.keys.add(key)
        return fresh


def upload_info(name: str) -> dict[str, str]:
    return {
        "name": name,
        "uploadUrl": f"{ONEDRIVE}/personal/u/_api/v2.0/up/1",
        "contentUrl": f"{ONEDRIVE}/personal/u/Documents/Applications/{name}",
        "uniqueId": "1150D938",
        "fileType": "zip",
    }


@pytest.fixture
def parts(tmp_path: Path) -> tuple[FileConsent, Bundles, Rule, Clock, Bundle]:
    clock, rule, registry = Clock(), Rule(), MemoryRegistry()
    bundles = Bundles(registry, clock, {"case": rule})
    consent = FileConsent(
        bundles=bundles, registry=registry, once=Once(), clock=clock, hosts=UploadHosts()
    )
    path = tmp_path / "b.zip"
    path.write_bytes(b"PK" + b"x" * 100)
    bundle = Bundle("job-1", path, "KH-2026-0001-evidence.zip", "KH-2026-0001", REQUESTER, clock.at)
    return consent, bundles, rule, clock, bundle


async def test_the_access_rule_is_asked_again_when_the_requester_accepts(
    parts: tuple[FileConsent, Bundles, Rule, Clock, Bundle],
) -> None:
    consent, bundles, rule, _clock, bundle = parts
    await bundles.add(bundle)
    card = await consent.offer(bundle, "説明")
    assert card["content"]["sizeInBytes"] == 102
    value = {
        "action": "accept",
        "context": card["content"]["acceptContext"],
        "uploadInfo": upload_info(bundle.filename),
    }
    rule.allowed = False  # moved to another department since asking
    with pytest.raises(DeliveryRefused) as refused:
        await consent.answer(value, REQUESTER)
    assert refused.value.reason == "no-access"
    rule.allowed = True  # the refusal used nothing up
    accepted = await consent.answer(value, REQUESTER)
    assert isinstance(accepted, Accepted) and accepted.bundle.path == bundle.path


async def test_a_stale_bundle_an_unknown_kind_and_junk_are_refused(
    parts: tuple[FileConsent, Bundles, Rule, Clock, Bundle],
) -> None:
    consent, bundles, _rule, clock, bundle = parts
    await bundles.add(bundle)
    card = await consent.offer(bundle, "説明")
    clock.at += dt.timedelta(hours=25)  # the offer and the bundle are both past their time
    value = {"action": "decline", "context": card["content"]["declineContext"]}
    with pytest.raises(DeliveryRefused) as refused:
        await consent.answer(value, REQUESTER)
    assert refused.value.reason == "expired"

    other = Bundle("job-2", bundle.path, "x.zip", "ORG-1", REQUESTER, clock.at, kind="org")
    await bundles.add(other)
    with pytest.raises(DeliveryRefused) as refused:
        await bundles.for_person("job-2", REQUESTER)
    assert refused.value.reason == "no-access"  # no rule for the kind: nobody receives it

    for junk in (None, "x", {"action": "accept"}, {"action": "accept", "context": {"offer": 5}}):
        with pytest.raises(DeliveryRefused) as refused:
            await consent.answer(junk, REQUESTER)
        assert refused.value.reason == "not-found"


def test_teams_runs_deliver_files_and_a_link_with_an_identity_does_not_start() -> None:
    identity = {"client_id": "app-1", "tenant_id": "tenant-1", "_env_file": None}
    assert Settings(**identity).delivers_by_file_consent  # type: ignore[arg-type]
    assert not Settings(allow_anonymous=True, _env_file=None).delivers_by_file_consent
    problem = Settings(export_delivery="link", **identity).serving_problem()  # type: ignore[arg-type]
    assert problem is not None and "MAMORU_EXPORT_DELIVERY=link" in problem
