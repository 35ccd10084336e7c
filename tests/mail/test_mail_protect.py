"""Whole mail protection against the sandbox: safety invariants, completeness, exactly-once."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from typing import Any

import pytest

from bot.domain.mailbox import (
    InvalidMailTarget,
    MailboxCredentialsRejected,
    MailboxError,
    MailboxNotFoundError,
    MailboxUnavailable,
    RulesQuotaFull,
    SenderSpec,
    parse_sender,
)
from bot.mail.graph_mailbox import GraphMailbox
from bot.mail.jsonl_log import JsonlEmailEvidenceLog
from bot.mail.protect import ProtectionRequest, protect_mailbox
from graph.models import FORBIDDEN_RULE_ACTIONS
from graph.sandbox import RunningSandbox
from graph.sandbox.state import Mailbox as SandboxMailbox
from graph.transport import RetryPolicy
from tests.graph.helpers import MAILBOX, Sent

ABUSER = "kujou.claims@example.net"
CASE = "KH-2026-0001"


def box_of(sandbox: RunningSandbox, upn: str = MAILBOX) -> SandboxMailbox:
    box = sandbox.sandbox.tenant.mailbox(upn)
    assert box is not None
    return box


def flood(sandbox: RunningSandbox, sender: str = ABUSER, n: int = 40) -> set[str]:
    tenant, box = sandbox.sandbox.tenant, box_of(sandbox)
    ids = {
        tenant.deliver(box, from_address=sender, subject=f"至急{i}", body="返事をしろ").immutable_id
        for i in range(n)
    }
    # Some of the flood was already filed away by the user: it must be rescued too.
    for folder, mid in zip(("junkemail", "deleteditems", "archive"), sorted(ids), strict=False):
        target = box.folder(folder)
        assert target is not None
        tenant.move(box, box.messages[mid], target)
    for i in range(5):
        tenant.deliver(box, from_address=f"citizen{i}@example.org", subject="相談", body="b")
    return ids


def request(sender: SenderSpec | None = None, case: str = CASE) -> ProtectionRequest:
    return ProtectionRequest(MAILBOX, sender or parse_sender(address=ABUSER), case)


def forbidden_in(body: Any) -> set[str]:
    """Forbidden rule actions anywhere in a JSON body (batch items included)."""
    found: set[str] = set()
    if isinstance(body, dict):
        found |= set(body) & FORBIDDEN_RULE_ACTIONS
        for value in body.values():
            found |= forbidden_in(value)
    elif isinstance(body, list):
        for value in body:
            found |= forbidden_in(value)
    return found


def assert_nothing_destructive(sandbox: RunningSandbox, sent: Sent) -> None:
    client_side = [(r.method, r.url, r.body) for r in sent.items]
    server_side = [(r.method, r.path, r.body) for r in sandbox.sandbox.tenant.requests]
    for method, where, body in client_side + server_side:
        assert method != "DELETE", where
        assert not forbidden_in(body), where
        assert not any(w in where.lower() for w in ("/forward", "/redirect", "/permanentdelete"))
    assert client_side and server_side


def in_folder(box: SandboxMailbox, folder_id: str) -> set[str]:
    return {m.immutable_id for m in box.messages.values() if m.folder_id == folder_id}


async def test_whole_protection(
    sandbox: RunningSandbox, sent: Sent, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox)
    seen: list[tuple[int, int]] = []
    result = await protect_mailbox(
        mailbox, evidence, request(), progress=lambda d, t: seen.append((d, t))
    )
    box = box_of(sandbox)
    assert result.complete and result.found == result.moved == result.recorded == len(ids)
    assert in_folder(box, result.folder_id) == ids  # every message, and only the sender's
    assert seen[0] == (0, len(ids)) and seen[-1] == (len(ids), len(ids))
    entries = evidence.entries(CASE)
    assert Counter(e["immutable_id"] for e in entries) == Counter(ids)
    for entry in entries:
        eml = (evidence.case_dir(CASE) / entry["eml"]).read_bytes()
        assert eml == box.messages[entry["immutable_id"]].mime
        assert hashlib.sha256(eml).hexdigest() == entry["mime_sha256"]
        assert entry["sender"] == ABUSER and entry["internet_message_id"]
    (rule,) = box.rules
    assert rule["actions"] == {
        "moveToFolder": result.folder_id,
        "markAsRead": True,
        "stopProcessingRules": True,
    }
    # New mail from the sender goes straight to the evidence folder.
    new = sandbox.sandbox.tenant.deliver(box, from_address=ABUSER.upper(), subject="x", body="y")
    assert new.folder_id == result.folder_id
    assert_nothing_destructive(sandbox, sent)


async def test_rerun_is_a_no_op(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox, n=12)
    await protect_mailbox(mailbox, evidence, request())
    sandbox.sandbox.tenant.requests.clear()
    again = await protect_mailbox(mailbox, evidence, request())
    assert (again.found, again.moved, again.recorded, again.already_done) == (12, 0, 0, 12)
    assert not [r for r in sandbox.sandbox.tenant.requests if r.path.endswith(("/move", "$value"))]
    assert len(evidence.entries(CASE)) == len(ids)


@pytest.mark.parametrize("sender", ["o'brien+x@example.com", "山田.太郎@例え.jp"])
async def test_quotes_and_unicode_senders(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog, sender: str
) -> None:
    ids = flood(sandbox, sender=sender, n=5)
    flood(sandbox, sender="x@example.com", n=3)
    result = await protect_mailbox(mailbox, evidence, request(parse_sender(address=sender)))
    assert in_folder(box_of(sandbox), result.folder_id) == ids


async def test_domain_protection(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox, sender="a@bad.example", n=3) | flood(sandbox, sender="b@bad.example", n=2)
    result = await protect_mailbox(mailbox, evidence, request(parse_sender(domain="bad.example")))
    box = box_of(sandbox)
    assert in_folder(box, result.folder_id) == ids
    assert box.rules[0]["conditions"] == {"senderContains": ["@bad.example"]}


async def test_domain_protection_never_takes_another_domains_mail(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    tenant, box = sandbox.sandbox.tenant, box_of(sandbox)
    ids = flood(sandbox, sender="a@example.co", n=3)
    look_alikes = ("x@example.com", "y@example.co.jp", "z@mail.example.co", "w@example.co-op.jp")
    innocent = {
        tenant.deliver(box, from_address=who, subject="ご案内", body="b").immutable_id
        for who in look_alikes
    }
    result = await protect_mailbox(mailbox, evidence, request(parse_sender(domain="example.co")))
    assert in_folder(box, result.folder_id) == ids
    assert all(box.messages[m].folder_id != result.folder_id for m in innocent)
    rule = box.rules[0]
    assert rule["conditions"] == {"senderContains": ["@example.co"]}
    assert "@example.com" in rule["exceptions"]["senderContains"]
    assert rule["actions"]["markAsRead"] is False  # a domain rule leaves mail unread
    # New mail: the rule takes example.co's and leaves the look-alikes in the inbox, unread.
    later = tenant.deliver(box, from_address="b@EXAMPLE.CO", subject="再送", body="b")
    assert later.folder_id == result.folder_id and not later.is_read
    for who in look_alikes:
        other = tenant.deliver(box, from_address=who, subject="お知らせ", body="b")
        assert other.folder_id != result.folder_id and not other.is_read, who


async def test_domain_protection_checks_each_listed_message(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    # Whatever the mail service lists, only exact matches are moved or recorded.
    real = mailbox.messages_from

    async def sloppy(upn: str, sender: SenderSpec) -> list[Any]:
        return await real(upn, SenderSpec(domain="example.org")) + await real(upn, sender)

    mailbox.messages_from = sloppy  # type: ignore[method-assign]
    ids = flood(sandbox, sender="a@example.co", n=2)
    result = await protect_mailbox(mailbox, evidence, request(parse_sender(domain="example.co")))
    assert in_folder(box_of(sandbox), result.folder_id) == ids
    assert result.other_senders > 0 and result.found == len(ids)


def test_sender_matching_is_exact() -> None:
    domain = parse_sender(domain="example.co")
    assert domain.matches("A@Example.CO")
    for other in ("a@example.com", "a@example.co.jp", "a@mail.example.co", "example.co", ""):
        assert not domain.matches(other), other
    address = parse_sender(address="Kujou@Example.net")
    assert address.matches("kujou@example.net")
    assert not address.matches("kujou@example.net.evil") and not address.matches(
        "xkujou@example.net"
    )
    assert address.rule_exclusions() == []
    assert len(domain.rule_exclusions()) == 38


def executed_moves(sandbox: RunningSandbox) -> Counter[str]:
    return Counter(
        r.path.split("/")[-2]
        for r in sandbox.sandbox.tenant.requests
        if r.path.endswith("/move") and r.status in (201, -1)
    )


async def test_lost_answer_then_rerun_is_exactly_once(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox, n=20)
    # The 7th move is executed but its answer is lost; the client must not guess.
    sandbox.sandbox.faults.update({"queue": ["drop-after"], "match": "/move"})
    faults = sandbox.sandbox.faults
    faults.queue.clear()
    moves = 0

    original = faults.pick

    def pick(path: str) -> str | None:
        nonlocal moves
        if path.endswith("/move"):
            moves += 1
            return "drop-after" if moves == 7 else None
        return original(path)

    faults.pick = pick  # type: ignore[method-assign]
    mailbox.client.transport._retry = RetryPolicy(max_attempts=1)
    with pytest.raises(MailboxUnavailable):
        await protect_mailbox(mailbox, evidence, request())
    assert len(evidence.entries(CASE)) < len(ids)
    faults.pick = original  # type: ignore[method-assign]
    result = await protect_mailbox(mailbox, evidence, request())
    assert result.complete
    assert Counter(e["immutable_id"] for e in evidence.entries(CASE)) == Counter(ids)
    assert set(executed_moves(sandbox).values()) == {1}  # no message moved twice
    assert in_folder(box_of(sandbox), result.folder_id) == ids


async def test_cancelled_midway_then_rerun_is_exactly_once(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox, n=30)
    sandbox.sandbox.faults.update({"latency": 0.01})
    halfway = asyncio.Event()

    def progress(done: int, total: int) -> None:
        if done >= total // 2:
            halfway.set()

    # Small batches: the cancellation finds some mails recorded and some not.
    task = asyncio.create_task(
        protect_mailbox(mailbox, evidence, request(), progress=progress, record_batch=4)
    )
    await halfway.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 0 < len(evidence.entries(CASE)) < len(ids)
    result = await protect_mailbox(mailbox, evidence, request())
    assert result.complete
    assert Counter(e["immutable_id"] for e in evidence.entries(CASE)) == Counter(ids)
    assert set(executed_moves(sandbox).values()) == {1}


async def test_torn_last_line_is_recorded_again(
    sandbox: RunningSandbox, mailbox: GraphMailbox, tmp_path: Any
) -> None:
    ids = flood(sandbox, n=6)
    first = JsonlEmailEvidenceLog(tmp_path)
    await protect_mailbox(mailbox, first, request())
    log = first.case_dir(CASE) / "log.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    torn_id = json.loads(lines[-1])["immutable_id"]
    log.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # killed mid-write
    fresh = JsonlEmailEvidenceLog(tmp_path)
    result = await protect_mailbox(mailbox, fresh, request())
    assert result.recorded == 1 and result.moved == 0
    entries = fresh.entries(CASE)
    assert Counter(e["immutable_id"] for e in entries) == Counter(ids)
    assert entries[-1]["immutable_id"] == torn_id


async def test_mail_already_in_evidence_folder_counts(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox, n=4)
    folder = await mailbox.ensure_folder(MAILBOX, ["カスハラ証拠保全", CASE])
    tenant, box = sandbox.sandbox.tenant, box_of(sandbox)
    early = sorted(ids)[0]
    target = box.folder(folder.id)
    assert target is not None
    tenant.move(box, box.messages[early], target)  # e.g. moved by the rule before a crash
    sandbox.sandbox.tenant.requests.clear()
    result = await protect_mailbox(mailbox, evidence, request())
    assert result.recorded == 4 and result.moved == 3
    assert early not in executed_moves(sandbox)


async def test_unknown_mailbox(mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog) -> None:
    bad = ProtectionRequest("nobody@city.example.jp", parse_sender(address=ABUSER), CASE)
    with pytest.raises(MailboxNotFoundError) as info:
        await protect_mailbox(mailbox, evidence, bad)
    assert "nobody" not in str(info.value)  # no personal data in errors (they reach logs)


async def test_rules_quota(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    sandbox.sandbox.limits.rules_quota_bytes = 100
    with pytest.raises(RulesQuotaFull) as info:
        await protect_mailbox(mailbox, evidence, request())
    assert "rules" in info.value.hint


async def test_revoked_credentials(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    sandbox.sandbox.tenant.apps["test-app"].revoked = True
    with pytest.raises(MailboxCredentialsRejected) as info:
        await protect_mailbox(mailbox, evidence, request())
    assert "secret" in info.value.hint


async def test_folder_name_at_the_limit(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    flood(sandbox, n=2)
    result = await protect_mailbox(mailbox, evidence, request(case="件" * 255))
    assert result.complete and len(evidence.entries("件" * 255)) == 2
    with pytest.raises(InvalidMailTarget):
        await protect_mailbox(mailbox, evidence, request(case="件" * 256))


async def test_service_down_then_rerun_resumes(
    sandbox: RunningSandbox, mailbox: GraphMailbox, evidence: JsonlEmailEvidenceLog
) -> None:
    ids = flood(sandbox, n=10)
    mailbox.client.transport._retry = RetryPolicy(
        max_attempts=20, max_total_seconds=0.5, backoff_base=0.05, backoff_max=0.1
    )
    sandbox.sandbox.faults.update({"fail5xxSeconds": 60, "retryAfter": 0.1})
    with pytest.raises(MailboxUnavailable) as info:
        await protect_mailbox(mailbox, evidence, request())
    assert "re-run" in info.value.hint
    sandbox.sandbox.faults.fail_5xx_until = 0.0  # Graph is back
    result = await protect_mailbox(mailbox, evidence, request())
    assert result.complete and len(evidence.entries(CASE)) == len(ids)


def test_errors_are_domain_errors() -> None:
    assert issubclass(MailboxUnavailable, MailboxError)
