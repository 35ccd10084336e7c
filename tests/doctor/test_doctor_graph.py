"""`mamoru doctor` against the local Graph service: least privilege passes, over-privilege fails."""

from __future__ import annotations

import base64
import json

import pytest

from bot.doctor import Finding, Status, exit_code
from bot.doctor.graph_access import INVERTED_EVENT, check_graph, token_claims
from bot.doctor.report import run_doctor
from graph.errors import GraphError
from graph.sandbox import RunningSandbox
from graph.sandbox.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_OUTSIDE_MAILBOX,
    DEMO_OVERPRIVILEGED_CLIENT_ID,
    DEMO_OVERPRIVILEGED_CLIENT_SECRET,
    DEMO_ROLES,
    DEMO_SCOPE,
    DEMO_USER_IDS,
)
from tests.doctor.conftest import local_settings
from tests.graph.helpers import FAST_RETRY, make_transport


def by_name(findings: list[Finding]) -> dict[str, Finding]:
    """Findings keyed by check name."""
    return {f.name: f for f in findings}


def failed(findings: list[Finding]) -> dict[str, Finding]:
    """Only the failed findings, by name."""
    return {f.name: f for f in findings if f.status is Status.FAIL}


async def test_least_privilege_setup_is_all_ok(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    settings = local_settings(demo_graph, database_url)
    findings = await run_doctor(settings, {}, outside_mailbox=DEMO_OUTSIDE_MAILBOX)
    assert [f for f in findings if f.status is not Status.OK] == []
    assert exit_code(findings) == 0
    checks = by_name(findings)
    assert "refused (403 ErrorAccessDenied)" in checks["Outside the scope"].what
    assert "none in the token" in checks["Tenant-wide consent"].what
    # Every call the bot makes, on the department mailbox (the default mailbox in scope).
    for name in (
        "Mail: list messages",
        "Mail: evidence folder",
        "Rules: list",
        "Rules: create",
        "Mail: move",
        "Mail: MIME download",
        "Mail: send",
        "Calendar: follow-up event",
    ):
        assert checks[name].what.startswith(f"allowed on {DEMO_DEPARTMENT_MAILBOX}"), name
    assert checks["Managers: group membership"].status is Status.OK
    assert "refused (403)" in checks["Managers' mail outside the scope"].what


async def test_doctor_changes_nothing(demo_graph: RunningSandbox, database_url: str) -> None:
    tenant = demo_graph.sandbox.tenant
    before = {
        box.user.upn: (len(box.folders), len(box.rules), len(box.events), len(box.messages))
        for box in tenant.mailboxes.values()
    }
    settings = local_settings(demo_graph, database_url)
    await check_graph(settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX)
    after = {
        box.user.upn: (len(box.folders), len(box.rules), len(box.events), len(box.messages))
        for box in tenant.mailboxes.values()
    }
    assert after == before
    writes = [r for r in tenant.requests if r.method != "GET"]
    assert {r.path.rsplit("/", 1)[-1] for r in writes} == {
        "childFolders",
        "messageRules",
        "move",
        "sendMail",
        "events",
    }


async def test_guide_setup_is_correct_on_every_mailbox_in_scope(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    settings = local_settings(demo_graph, database_url)
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    assert [f for f in findings if f.status is not Status.OK] == []
    staff = [f for f in findings if f.what.startswith(f"allowed on {DEMO_MAILBOX}")]
    # The staff mailbox: protection only; sending and the calendar are the department's.
    assert {f.name for f in staff} == {
        "Mail: list messages",
        "Mail: evidence folder",
        "Rules: list",
        "Rules: create",
        "Mail: move",
        "Mail: MIME download",
    }


async def test_over_privileged_app_fails_naming_the_problem(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    settings = local_settings(
        demo_graph,
        database_url,
        graph_client_id=DEMO_OVERPRIVILEGED_CLIENT_ID,
        graph_client_secret=DEMO_OVERPRIVILEGED_CLIENT_SECRET,
    )
    findings = await run_doctor(settings, {}, outside_mailbox=DEMO_OUTSIDE_MAILBOX)
    assert exit_code(findings) == 1
    bad = failed(findings)
    assert set(bad) == {"Tenant-wide consent", "Outside the scope"}
    consent = bad["Tenant-wide consent"]
    assert "Mail.ReadWrite" in consent.what and "EVERY mailbox" in consent.what
    assert "revoke" in consent.fix and "Grant-MamoruMailboxAccess.ps1" in consent.fix
    outside = bad["Outside the scope"]
    assert DEMO_OUTSIDE_MAILBOX in outside.what and "over-privileged" in outside.what
    assert "management scope" in outside.fix


async def test_too_wide_management_scope_is_caught_by_the_refused_call(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    """RBAC grants are not in the token: only the call outside the scope can show it."""
    demo_graph.sandbox.tenant.add_app(
        "wide-scope", "s", DEMO_ROLES, {*DEMO_USER_IDS, DEMO_OUTSIDE_MAILBOX}
    )
    settings = local_settings(
        demo_graph, database_url, graph_client_id="wide-scope", graph_client_secret="s"
    )
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    assert set(failed(findings)) == {"Outside the scope"}
    assert by_name(findings)["Tenant-wide consent"].status is Status.OK


async def test_missing_rbac_role_fails_the_call_that_needs_it(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    roles = DEMO_ROLES - {"Calendars.ReadWrite"}
    demo_graph.sandbox.tenant.add_app("no-calendar", "s", roles, set(DEMO_SCOPE))
    settings = local_settings(
        demo_graph, database_url, graph_client_id="no-calendar", graph_client_secret="s"
    )
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    bad = failed(findings)
    assert set(bad) == {"Calendar: follow-up event"}
    assert "403" in bad["Calendar: follow-up event"].what
    assert DEMO_DEPARTMENT_MAILBOX in bad["Calendar: follow-up event"].what
    assert "Application Calendars.ReadWrite" in bad["Calendar: follow-up event"].fix


async def test_department_mailbox_outside_the_scope_fails_send_and_calendar(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    # The guide's step 5.1 adds the department mailbox to the group; forgetting it is caught.
    demo_graph.sandbox.tenant.add_app("no-dept", "s", DEMO_ROLES, {DEMO_MAILBOX})
    settings = local_settings(
        demo_graph, database_url, graph_client_id="no-dept", graph_client_secret="s"
    )
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    bad = [f for f in findings if f.status is Status.FAIL]
    assert {f.name for f in bad} >= {"Mail: send", "Calendar: follow-up event"}
    assert all(DEMO_DEPARTMENT_MAILBOX in f.what for f in bad)


async def test_managers_mailboxes_in_the_scope_are_flagged(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    demo_graph.sandbox.tenant.add_app("managers-too", "s", DEMO_ROLES, set(DEMO_USER_IDS))
    settings = local_settings(
        demo_graph, database_url, graph_client_id="managers-too", graph_client_secret="s"
    )
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    flagged = by_name(findings)["Managers' mail outside the scope"]
    assert flagged.status is Status.WARN and "readable" in flagged.what


async def test_manager_group_without_group_member_read(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    roles = DEMO_ROLES - {"GroupMember.Read.All"}
    demo_graph.sandbox.tenant.add_app("no-group", "s", roles, set(DEMO_SCOPE))
    settings = local_settings(
        demo_graph, database_url, graph_client_id="no-group", graph_client_secret="s"
    )
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    bad = failed(findings)
    assert set(bad) == {"GroupMember.Read.All", "Managers: group membership"}
    assert "no manager could approve" in bad["Managers: group membership"].what
    assert "Grant-MamoruGroupMemberRead.ps1" in bad["GroupMember.Read.All"].fix


async def test_group_role_without_a_group_is_a_warning(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    settings = local_settings(
        demo_graph, database_url, manager_group_id="", manager_ids=DEMO_USER_IDS[DEMO_MAILBOX]
    )
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    assert by_name(findings)["GroupMember.Read.All"].status is Status.WARN
    assert exit_code(findings) == 0


async def test_no_outside_mailbox_is_a_warning_and_no_mailbox_a_failure(
    demo_graph: RunningSandbox, database_url: str
) -> None:
    settings = local_settings(demo_graph, database_url, department_mailbox="")
    findings = await check_graph(settings, mailbox="", outside_mailbox="")
    checks = by_name(findings)
    assert checks["Outside the scope"].status is Status.WARN
    assert "--outside-mailbox" in checks["Outside the scope"].fix
    assert checks["Opted-in mailbox"].status is Status.FAIL
    assert "--mailbox" in checks["Opted-in mailbox"].fix


async def test_wrong_secret_fails_sign_in(demo_graph: RunningSandbox, database_url: str) -> None:
    settings = local_settings(
        demo_graph,
        database_url,
        graph_client_id=DEMO_OVERPRIVILEGED_CLIENT_ID,
        graph_client_secret="wrong",
    )
    findings = await check_graph(settings, mailbox=DEMO_MAILBOX, outside_mailbox="")
    (finding,) = findings
    assert finding.name == "Sign-in" and finding.status is Status.FAIL
    assert "invalid_client" in finding.what


def _jwt(claims: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_token_claims_reads_the_payload_without_verifying() -> None:
    claims = token_claims(_jwt({"roles": ["GroupMember.Read.All"], "appid": "a"}))
    assert claims["roles"] == ["GroupMember.Read.All"]
    with pytest.raises(ValueError):
        token_claims("opaque-token")


async def test_the_calendar_probe_is_an_event_graph_refuses(demo_graph: RunningSandbox) -> None:
    """An event ending before it starts is refused (ErrorPropertyValidationFailure), not made."""
    box = demo_graph.sandbox.tenant.mailbox(DEMO_DEPARTMENT_MAILBOX)
    assert box is not None
    before = len(box.events)
    transport = make_transport(
        demo_graph, client_id=DEMO_CLIENT_ID, secret=DEMO_CLIENT_SECRET, retry=FAST_RETRY
    )
    try:
        with pytest.raises(GraphError) as refused:
            await transport.request(
                "POST",
                f"/users/{DEMO_DEPARTMENT_MAILBOX}/events",
                mailbox=DEMO_DEPARTMENT_MAILBOX,
                json=INVERTED_EVENT,
            )
    finally:
        await transport.aclose()
    assert refused.value.status == 400
    assert refused.value.code == "ErrorPropertyValidationFailure"
    assert len(box.events) == before


async def test_a_write_probe_graph_accepts_is_a_warning_naming_what_to_remove(
    demo_graph: RunningSandbox, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If Graph ever took a probe, doctor says so instead of a quiet 'allowed'."""
    monkeypatch.setitem(INVERTED_EVENT["end"], "dateTime", "2000-01-03T00:00:00")
    settings = local_settings(demo_graph, database_url)
    findings = await check_graph(
        settings, mailbox=DEMO_MAILBOX, outside_mailbox=DEMO_OUTSIDE_MAILBOX
    )
    calendar = [f for f in findings if f.name == "Calendar: follow-up event"]
    assert [f.status for f in calendar] == [Status.WARN]
    assert "accepted the probe" in calendar[0].what
    assert "Mamoru doctor probe" in calendar[0].fix and DEMO_DEPARTMENT_MAILBOX in calendar[0].fix
