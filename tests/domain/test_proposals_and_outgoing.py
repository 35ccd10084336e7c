"""Proportionate proposals from counted facts, and what blocks an organisation mail."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.escalation import (
    ActionKind,
    CaseFacts,
    MailCounts,
    ProposalReason,
    propose,
)
from bot.domain.incidents import (
    Counterparts,
    Incident,
    IncidentDraft,
    IncidentType,
    Person,
    open_incident,
)
from bot.domain.outgoing import OutgoingMail, Problem, check, placeholders_in, reference

AT = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
STAFF = Person("s", "田中")


def case(
    kind: IncidentType,
    summary: str = "メールが続く",
    *,
    threat: bool = False,
    address: str = "x@example.net",
) -> Incident:
    draft = IncidentDraft(
        kind,
        STAFF,
        "市民課",
        summary,
        counterparts=Counterparts(emails=(address,), domains=(address.rpartition("@")[2],)),
        physical_threat=threat,
    )
    return open_incident(draft, incident_id="KH-2026-0001", at=AT)


def counted(total: int, peak: int, days: int = 7) -> CaseFacts:
    return CaseFacts(mail=MailCounts(total=total, days=days, peak_per_day=peak))


def by_kind(incident: Incident, facts: CaseFacts) -> dict[ActionKind, ProposalReason]:
    return {p.kind: p.reason for p in propose(incident, facts)}


def test_only_preservation_is_preselected() -> None:
    for kind in IncidentType:
        for proposal in propose(case(kind), counted(5000, 900)):
            assert proposal.preselected == (proposal.kind is ActionKind.MAIL_PROTECTION)


def test_three_mails_a_week_get_no_domain_block_and_no_police_recommendation() -> None:
    reasons = by_kind(case(IncidentType.MASS_EMAIL), counted(3, 1))
    assert ActionKind.IT_DOMAIN_FILTER not in reasons
    assert reasons[ActionKind.POLICE_CONSULTATION] is ProposalReason.NO_THREAT
    assert reasons[ActionKind.CUTOFF_DECLARATION] is ProposalReason.FEW_MAILS


def test_mail_bomb_volumes_propose_the_domain_block_and_police() -> None:
    reasons = by_kind(case(IncidentType.MASS_EMAIL), counted(3000, 800))
    assert reasons[ActionKind.IT_DOMAIN_FILTER] is ProposalReason.MAIL_BOMB
    assert reasons[ActionKind.POLICE_CONSULTATION] is ProposalReason.OBSTRUCTION
    assert reasons[ActionKind.CUTOFF_DECLARATION] is ProposalReason.REPEATED


@pytest.mark.parametrize("address", ["bomber@gmail.com", "bomber@DoCoMo.ne.jp"])
def test_a_mail_bomb_from_a_free_mail_domain_never_proposes_blocking_the_domain(
    address: str,
) -> None:
    # Blocking gmail.com would stop every resident who writes from there.
    reasons = by_kind(case(IncidentType.MASS_EMAIL, address=address), counted(3000, 800))
    assert ActionKind.IT_DOMAIN_FILTER not in reasons
    assert reasons[ActionKind.MAIL_PROTECTION] is ProposalReason.PRESERVE  # the address rule
    custom = propose(
        case(IncidentType.MASS_EMAIL, address="a@example.net"),
        counted(3000, 800),
        shared_domains=frozenset({"example.net"}),
    )
    assert ActionKind.IT_DOMAIN_FILTER not in {p.kind for p in custom}


@pytest.mark.parametrize(
    "summary", ["「家を知っているぞ、覚えておけ」と書かれていた", "殺すと言われました"]
)
def test_threats_in_the_report_propose_police(summary: str) -> None:
    reasons = by_kind(case(IncidentType.MASS_EMAIL, summary), counted(4, 1))
    assert reasons[ActionKind.POLICE_CONSULTATION] is ProposalReason.THREAT


def test_uncounted_mailbox_says_so() -> None:
    reasons = by_kind(case(IncidentType.MASS_EMAIL), CaseFacts())
    assert reasons[ActionKind.CUTOFF_DECLARATION] is ProposalReason.NOT_COUNTED
    assert ActionKind.IT_DOMAIN_FILTER not in reasons


def test_final_warning_only_after_refusal_and_further_mail_or_a_reason() -> None:
    fixation = case(IncidentType.PERSONAL_FIXATION)
    proposals = {p.kind: p for p in propose(fixation, counted(4, 1))}
    assert proposals[ActionKind.FINAL_WARNING].available is False
    assert proposals[ActionKind.FINAL_WARNING].reason is ProposalReason.REFUSAL_FIRST
    sent = AT + dt.timedelta(days=2)
    waiting = CaseFacts(mail=counted(4, 1).mail, refusal_sent_at=sent)
    proposals = {p.kind: p for p in propose(fixation, waiting)}
    assert ActionKind.REFUSAL_REPLY not in proposals  # sent once, never twice
    assert proposals[ActionKind.FINAL_WARNING].reason is ProposalReason.WAIT_FOR_MAIL
    assert proposals[ActionKind.FINAL_WARNING].available is False
    again = CaseFacts(mail=counted(5, 1).mail, refusal_sent_at=sent, mail_after_refusal=1)
    assert {p.kind: p for p in propose(fixation, again)}[ActionKind.FINAL_WARNING].available
    skipped = CaseFacts(skip_reason="来庁時に職員の帰りを待っていたため")
    assert {p.kind: p for p in propose(fixation, skipped)}[ActionKind.FINAL_WARNING].available


def mail(**fields: str) -> OutgoingMail:
    base = {"sender": "soudan@city.example.jp", "to": "x@example.net", "subject": "件名"}
    return OutgoingMail(**{**base, "body": "本文です。", **fields})


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("〇〇様　〇〇区〇〇課長の〇〇です", ("〇〇様", "〇〇区", "〇〇課", "〇〇")),
        ("○○様", ("○○様",)),
        ("〇月〇日付で", ("〇月", "〇日")),
        ("担当：＿＿＿", ("＿＿＿",)),
        ("Dear XX,", ("XX",)),
        ("{name} 様", ("{name}",)),
        ("[ ] を確認", ("[ ]",)),
        ("九条 様　市民相談課です。", ()),
    ],
)
def test_placeholders_are_found(text: str, found: tuple[str, ...]) -> None:
    assert placeholders_in(text) == found


def test_check_lists_each_problem() -> None:
    assert check(mail()) == ()
    problems = {f.problem for f in check(mail(body="<p>本文</p>", subject=" "))}
    assert problems == {Problem.MARKUP, Problem.EMPTY_SUBJECT}
    assert {f.problem for f in check(mail(body="# 見出し\n本文"))} == {Problem.MARKUP}
    assert {f.problem for f in check(mail(to="SOUDAN@city.example.jp"))} == {Problem.TO_SELF}
    assert {f.problem for f in check(mail(to="not an address"))} == {Problem.BAD_RECIPIENT}
    (long,) = check(mail(body="あ" * 100_000))
    assert long.problem is Problem.TOO_LONG and long.detail == "100,000"
    assert {f.problem for f in check(mail(sender=""))} == {Problem.NO_SENDER}


def test_digest_changes_with_any_field() -> None:
    assert mail().digest == mail().digest
    assert mail().digest != mail(body="本文です。 ").digest
    assert mail().digest != mail(to="y@example.net").digest


def test_reference_format() -> None:
    fmt = "{department}-{yyyy}{mm}{dd}-{n}"
    assert reference(fmt, department="SHIMIN", year=2026, month=3, day=4, n=2) == (
        "SHIMIN-20260304-2"
    )
    # A broken format falls back to the default instead of blocking the mail.
    assert reference("{nope}", department="D", year=2026, month=1, day=1, n=1) == "D-20260101-1"
