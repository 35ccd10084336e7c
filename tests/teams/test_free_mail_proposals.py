"""A mail bomb from a domain configured as free mail (MAMORU_FREE_MAIL_DOMAINS) is never
proposed for a domain-wide block, as a built-in one (gmail.com...) is not: the bot as run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.domain.escalation import ActionKind, MailCounts
from bot.domain.incidents import Incident
from tests.teams.conftest import STAFF, start_bot, two_managers


class MailBomb:
    """The counterpart's mail as counted in the mailbox: 3,000 mails, 800 on the worst day."""

    async def counts(self, _incident: Incident) -> MailCounts:
        return MailCounts(total=3000, days=4, peak_per_day=800)

    async def arrived_after(self, _incident: Incident, _at: dt.datetime) -> int:
        return 0


@pytest.mark.parametrize(
    ("configured", "block_proposed"),
    [("", True), ("city-mail.example", True), ("Shared-Provider.example, x.test", False)],
)
async def test_a_configured_free_mail_domain_is_not_proposed_for_a_domain_block(
    tmp_path: Path, configured: str, block_proposed: bool
) -> None:
    async for bot in start_bot(two_managers(tmp_path, free_mail_domains=configured)):
        escalations = bot.services.escalations
        escalations.mail_facts = MailBomb()  # type: ignore[assignment]
        incident_id = await bot.report(
            submission_id="sub-bomb-0001-abcdef",
            type="mass-email",
            what_happened="同じ相手から毎日数百通のメールが届きます",
            counterpart="bomber@shared-provider.example",
            **STAFF,
        )
        incident = await bot.services.persistence.store.load_incident(incident_id)
        view = await escalations.view(incident)  # what the managers' card proposes
        assert (ActionKind.IT_DOMAIN_FILTER in {p.kind for p in view.proposals}) is block_proposed
        assert ActionKind.MAIL_PROTECTION in {p.kind for p in view.proposals}  # the address rule
