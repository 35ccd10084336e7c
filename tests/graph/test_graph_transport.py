"""Transport rules against the sandbox over real HTTP: retries, Retry-After, concurrency, $batch."""

from __future__ import annotations

import asyncio
import time

import pytest

from graph import errors
from graph.mailbox import GraphMailboxClient
from graph.models import EmailAddress, ItemBody, Message, Recipient
from graph.sandbox import RunningSandbox
from graph.transport import BatchItem, RetryPolicy, odata_string, query_string
from tests.graph.helpers import MAILBOX, Sent, make_transport

INBOX = f"/users/{MAILBOX}/mailFolders/inbox"


def test_odata_quoting_and_percent_encoding() -> None:
    assert odata_string("o'brien") == "'o''brien'"
    assert odata_string("x' or 1 eq 1") == "'x'' or 1 eq 1'"
    q = query_string({"$filter": "a eq 'o''b+x@e.com'", "$top": 5})
    assert q == "$filter=a%20eq%20%27o%27%27b%2Bx%40e.com%27&$top=5"


async def test_every_request_prefers_immutable_ids(sandbox: RunningSandbox, sent: Sent) -> None:
    seen: list[str] = []
    t = make_transport(sandbox, sent)
    orig = t.session.request

    def spy(method: str, url: object, **kw: object) -> object:
        seen.append(str((kw.get("headers") or {}).get("Prefer")))  # type: ignore[union-attr]
        return orig(method, url, **kw)  # type: ignore[arg-type]

    t.session.request = spy  # type: ignore[method-assign]
    await t.get(INBOX, mailbox=MAILBOX)
    await t.get(f"/users/{MAILBOX}/messages", mailbox=MAILBOX)
    await t.aclose()
    assert seen == ['IdType="ImmutableId"'] * 2


async def test_fractional_retry_after_is_honoured(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["429", "503"], "retryAfter": 0.3})
    t = make_transport(sandbox)
    start = time.monotonic()
    await t.get(INBOX, mailbox=MAILBOX)
    elapsed = time.monotonic() - start
    await t.aclose()
    assert elapsed >= 0.6  # two waits of 0.3 s, not the policy's 10 ms backoff
    statuses = [r.status for r in sandbox.sandbox.tenant.requests if r.path.endswith("inbox")]
    assert statuses == [429, 503, 200]


async def test_retries_are_bounded_in_attempts(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["503"] * 10, "retryAfter": 0.01})
    t = make_transport(sandbox)
    with pytest.raises(errors.ServiceUnavailable):
        await t.get(INBOX, mailbox=MAILBOX)
    await t.aclose()
    assert len(sandbox.sandbox.tenant.requests) == 5  # FAST_RETRY.max_attempts


async def test_retries_are_bounded_in_total_time(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["429"] * 10, "retryAfter": 5})
    t = make_transport(sandbox, retry=RetryPolicy(max_attempts=10, max_total_seconds=1.0))
    start = time.monotonic()
    with pytest.raises(errors.Throttled):
        await t.get(INBOX, mailbox=MAILBOX)
    await t.aclose()
    assert time.monotonic() - start < 1.0  # a 5 s Retry-After exceeds the budget: give up now


async def test_dropped_connection_retried_for_idempotent_get(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["drop"]})
    t = make_transport(sandbox)
    folder = await t.get(INBOX, mailbox=MAILBOX)
    await t.aclose()
    assert folder["displayName"] == "Inbox"


@pytest.mark.parametrize("fault", ["503", "drop", "drop-after"])
async def test_send_mail_is_never_retried_blindly(sandbox: RunningSandbox, fault: str) -> None:
    sandbox.sandbox.faults.update({"queue": [fault], "match": "sendMail", "retryAfter": 0.01})
    client = GraphMailboxClient(make_transport(sandbox))
    mail = Message(
        subject="s",
        body=ItemBody(content="b"),
        to_recipients=[Recipient(email_address=EmailAddress(address="suzuki@city.example.jp"))],
    )
    with pytest.raises(errors.NotSent):
        await client.send_mail(MAILBOX, mail)
    await client.transport.aclose()
    sends = [r for r in sandbox.sandbox.tenant.requests if r.path.endswith("sendMail")]
    assert len(sends) == 1
    inbox = sandbox.sandbox.tenant.mailbox("suzuki@city.example.jp")
    assert inbox is not None
    delivered = len(inbox.messages)
    assert delivered == (1 if fault == "drop-after" else 0)  # sent once at most, never twice


async def test_send_mail_retried_after_429_since_it_was_refused(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["429"], "match": "sendMail", "retryAfter": 0.01})
    client = GraphMailboxClient(make_transport(sandbox))
    to = [Recipient(email_address=EmailAddress(address="suzuki@city.example.jp"))]
    await client.send_mail(MAILBOX, Message(subject="s", to_recipients=to))
    await client.transport.aclose()
    box = sandbox.sandbox.tenant.mailbox("suzuki@city.example.jp")
    assert box is not None and len(box.messages) == 1


async def test_at_most_four_concurrent_per_mailbox(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"latency": 0.05})
    t = make_transport(sandbox)
    await asyncio.gather(*(t.get(INBOX, mailbox=MAILBOX) for _ in range(24)))
    await t.aclose()
    (row,) = sandbox.sandbox.throttle.stats()
    assert row["peakConcurrent"] == 4  # used fully, never exceeded
    assert row["throttled"] == 0 and row["executed"] == 24


async def test_sandbox_enforces_concurrency_for_careless_clients(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"latency": 0.1})
    t = make_transport(sandbox, retry=RetryPolicy(max_attempts=1))
    t._concurrency = 50  # a client ignoring Graph's rule
    results = await asyncio.gather(
        *(t.get(INBOX, mailbox=MAILBOX) for _ in range(8)), return_exceptions=True
    )
    await t.aclose()
    throttled = [r for r in results if isinstance(r, errors.Throttled)]
    assert len(throttled) == 4 and all(e.retry_after for e in throttled)


async def test_request_budget_window_answers_429(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.limits.requests_per_window = 3
    sandbox.sandbox.limits.window_seconds = 0.5
    t = make_transport(sandbox, retry=RetryPolicy(max_attempts=1))
    for _ in range(3):
        await t.get(INBOX, mailbox=MAILBOX)
    with pytest.raises(errors.Throttled) as info:
        await t.get(INBOX, mailbox=MAILBOX)
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 0.5
    await asyncio.sleep(info.value.retry_after)
    await t.get(INBOX, mailbox=MAILBOX)  # the window has slid
    await t.aclose()


async def test_batch_retries_only_failed_items(sandbox: RunningSandbox) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    ids = [
        tenant.deliver(box, from_address="x@example.net", subject=str(n), body="b").immutable_id
        for n in range(25)
    ]
    sandbox.sandbox.faults.update({"queue": ["429", "503", "429"], "retryAfter": 0.2})
    t = make_transport(sandbox)
    items = [BatchItem(str(n), "GET", f"/users/{MAILBOX}/messages/{i}") for n, i in enumerate(ids)]
    start = time.monotonic()
    results = await t.batch(items, mailbox=MAILBOX)
    elapsed = time.monotonic() - start
    await t.aclose()
    assert all(r.ok for r in results.values()) and len(results) == 25
    assert {results[str(n)].body["id"] for n in range(25)} == set(ids)
    envelopes = [r for r in tenant.requests if r.path == "/$batch"]
    assert [len(e.body["requests"]) for e in envelopes] == [20, 5, 3]  # only the 3 failed
    assert elapsed >= 0.2  # after the longest Retry-After


async def test_a_429_inside_a_batch_pauses_the_whole_mailbox(sandbox: RunningSandbox) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    msg = tenant.deliver(box, from_address="a@example.net", subject="s", body="b")
    sandbox.sandbox.faults.update({"queue": ["429"], "match": "/move", "retryAfter": 0.8})
    t = make_transport(sandbox)
    url = f"/users/{MAILBOX}/messages/{msg.immutable_id}/move"
    item = BatchItem("1", "POST", url, {"destinationId": "archive"})
    batch = asyncio.create_task(t.batch([item], mailbox=MAILBOX))
    while not any(r.status == 429 for r in tenant.requests):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the batch's answer (200, with the item's 429) has arrived
    start = time.monotonic()
    await t.get(INBOX, mailbox=MAILBOX)  # another request to the same mailbox waits too
    waited = time.monotonic() - start
    results = await batch
    await t.aclose()
    assert results["1"].status == 201 and waited >= 0.4


async def test_batch_non_json_bodies_are_base64_decoded(sandbox: RunningSandbox) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    msg = tenant.deliver(box, from_address="x@example.net", subject="件名", body="本文")
    t = make_transport(sandbox)
    items = [BatchItem("1", "GET", f"/users/{MAILBOX}/messages/{msg.immutable_id}/$value")]
    results = await t.batch(items, mailbox=MAILBOX)
    await t.aclose()
    assert results["1"].body == msg.mime


async def test_next_link_followed_as_given(sandbox: RunningSandbox, sent: Sent) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    for n in range(7):
        tenant.deliver(box, from_address="o'brien+x@example.com", subject=str(n), body="b")
    t = make_transport(sandbox, sent)
    params = {"$filter": "from/emailAddress/address eq 'o''brien+x@example.com'", "$top": 3}
    pages = [p async for p in t.iter_pages(f"/users/{MAILBOX}/messages", params=params)]
    await t.aclose()
    assert [len(p) for p in pages] == [3, 3, 1]
    links = [s.url for s in sent.items if "messages" in s.url]
    assert links[1].endswith("$skip=3") and "%27o%27%27brien%2Bx%40example.com%27" in links[1]


def test_default_policy_keeps_the_documented_promise() -> None:
    # docs/graph.md: retried for MAMORU_GRAPH_RETRY_SECONDS (600 s), not a handful of tries.
    policy = RetryPolicy()
    assert policy.max_total_seconds == 600.0
    waits, attempt = 0.0, 1
    while attempt < policy.max_attempts:  # the backoff alone, without any Retry-After
        waits += min(policy.backoff_max, policy.backoff_base * 2 ** (attempt - 1)) * 0.5
        attempt += 1
    assert waits >= policy.max_total_seconds  # attempts never run out before the time does


async def test_throttling_is_waited_out_beyond_a_few_attempts(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["429"] * 12, "retryAfter": 0.01})
    t = make_transport(sandbox, retry=RetryPolicy(max_total_seconds=5.0, backoff_base=0.01))
    await t.get(INBOX, mailbox=MAILBOX)
    await t.aclose()
    statuses = [r.status for r in sandbox.sandbox.tenant.requests]
    assert statuses == [429] * 12 + [200]


async def test_a_page_that_times_out_is_asked_again_smaller(
    sandbox: RunningSandbox, sent: Sent
) -> None:
    tenant = sandbox.sandbox.tenant
    box = tenant.mailbox(MAILBOX)
    assert box is not None
    for n in range(300):
        tenant.deliver(box, from_address="flood@example.net", subject=str(n), body="b")
    sandbox.sandbox.faults.update({"queue": ["504", "504"], "match": "/messages"})
    t = make_transport(sandbox, sent)
    params = {"$select": "id", "$top": 1000}
    pages = [
        p
        async for p in t.iter_pages(
            f"/users/{MAILBOX}/messages", mailbox=MAILBOX, params=params, shrink_on_504=True
        )
    ]
    await t.aclose()
    tops = [s.url.rsplit("top=", 1)[-1].split("&")[0] for s in sent.items]
    assert tops[:3] == ["1000", "500", "250"]  # halved after each 504, not retried as is
    assert sum(len(p) for p in pages) == 300 and len({m["id"] for p in pages for m in p}) == 300


async def test_some_504s_carry_retry_after(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.update({"queue": ["504", "504"], "retryAfter": 0.2})
    t = make_transport(sandbox)
    start = time.monotonic()
    await t.get(INBOX, mailbox=MAILBOX)
    await t.aclose()
    assert time.monotonic() - start >= 0.2  # the first 504's Retry-After was honoured


async def test_access_denied_is_not_retried(sandbox: RunningSandbox) -> None:
    # A 403 may last hours (RBAC propagation) or forever: the transport reports it at once.
    sandbox.sandbox.tenant.add_app("no-mail", "s", {"GroupMember.Read.All"})
    t = make_transport(sandbox, client_id="no-mail", secret="s")
    with pytest.raises(errors.AccessDenied):
        await t.get(INBOX, mailbox=MAILBOX)
    await t.aclose()
    assert [r.status for r in sandbox.sandbox.tenant.requests] == [403]
