"""Demo data and the mail-bomb generator for the sandbox.

``--seed demo`` creates the city office of the README walkthrough: two staff
mailboxes, a department mailbox, a managers group, a mailbox that did not opt in, an app
registration with least-privilege roles (and an over-privileged one for ``mamoru
doctor`` to flag), a flood of 300 mails from one abusive sender and some
ordinary mail. All names and addresses are fictitious (``example`` domains).
"""

from __future__ import annotations

import datetime as dt

from graph.sandbox.state import Mailbox, StoredMessage, Tenant, utcnow

# The sandbox app that `mamoru mail protect` uses by default in sandbox mode.
DEMO_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
DEMO_CLIENT_SECRET = "sandbox-secret-not-for-production"
DEMO_TENANT_ID = "0c17e5a1-0000-4000-8000-c17ec17ec17e"
DEMO_ROLES = {
    "Mail.ReadWrite",
    "MailboxSettings.ReadWrite",
    "Mail.Send",
    "Calendars.ReadWrite",
    "GroupMember.Read.All",
}
# A deliberately over-privileged registration (`mamoru doctor` must flag it): the same roles
# by a tenant-wide Entra admin consent, so they are in its token and reach every mailbox.
DEMO_OVERPRIVILEGED_CLIENT_ID = "99999999-8888-7777-6666-555555555555"
DEMO_OVERPRIVILEGED_CLIENT_SECRET = "sandbox-overprivileged-secret"
DEMO_ABUSER = "kujou.claims@example.net"
DEMO_MAILBOX = "tanaka@city.example.jp"
DEMO_DEPARTMENT_MAILBOX = "shimin-soudan@city.example.jp"
# Fixed Entra object ids, so the Agents Playground's users (see the project's Playground
# configurations) are the same people as the sandbox's mailboxes and group members.
DEMO_USER_IDS = {
    DEMO_MAILBOX: "d3e0a001-0000-4000-8000-000000000001",
    "suzuki@city.example.jp": "d3e0a001-0000-4000-8000-000000000002",
    DEMO_DEPARTMENT_MAILBOX: "d3e0a001-0000-4000-8000-000000000003",
    "kacho@city.example.jp": "d3e0a001-0000-4000-8000-000000000004",
    "bucho@city.example.jp": "d3e0a001-0000-4000-8000-000000000005",
}
# The IT guide's management scope: the opted-in staff and the department mailbox. The
# managers' own mailboxes are not in it (Mamoru never needs their mail or calendars).
DEMO_SCOPE = (DEMO_MAILBOX, "suzuki@city.example.jp", DEMO_DEPARTMENT_MAILBOX)
# A mailbox that did not opt in: outside the demo app's RBAC for Applications scope.
DEMO_OUTSIDE_MAILBOX = "hisho@city.example.jp"
DEMO_MANAGERS_GROUP_ID = "d3e0a001-0000-4000-8000-0000000000a0"

_ABUSE_SUBJECTS = ("至急回答しろ", "責任者を出せ", "まだか", "誠意を見せろ", "今すぐ電話しろ")
_NORMAL = (
    ("yamada@example.org", "山田 太郎", "住民票の写しについて", "必要書類を教えてください。"),
    ("sato@example.com", "佐藤 一郎", "ごみ収集日の確認", "年末年始の収集日を知りたいです。"),
    ("somu@city.example.jp", "総務課", "研修のお知らせ", "来週の研修資料を共有します。"),
)


def mail_bomb(
    tenant: Tenant,
    box: Mailbox,
    *,
    sender: str,
    count: int,
    span: dt.timedelta,
    sender_name: str = "",
    end: dt.datetime | None = None,
    subjects: tuple[str, ...] = _ABUSE_SUBJECTS,
) -> list[StoredMessage]:
    """Deliver ``count`` messages from one sender spread evenly over ``span`` ending at ``end``."""
    end = end or utcnow()
    step = span / max(count, 1)
    out = []
    for n in range(count):
        received = (end - span + step * (n + 1)).replace(microsecond=0)
        subject = f"{subjects[n % len(subjects)]}（{n + 1}通目）"
        body = f"{subject}\n対応が遅い。今日中に返事をしろ。"
        out.append(
            tenant.deliver(
                box,
                from_address=sender,
                from_name=sender_name,
                subject=subject,
                body=body,
                received=received,
            )
        )
    return out


def seed_demo(tenant: Tenant, *, flood: int = 300) -> None:
    """Fill an empty tenant with the demo city office."""
    tenant.tenant_id = DEMO_TENANT_ID
    ids = DEMO_USER_IDS
    tanaka = tenant.add_user(DEMO_MAILBOX, "田中 花子", user_id=ids[DEMO_MAILBOX])
    tenant.add_user("suzuki@city.example.jp", "鈴木 次郎", user_id=ids["suzuki@city.example.jp"])
    dept = tenant.add_user(
        DEMO_DEPARTMENT_MAILBOX, "市民相談課", user_id=ids[DEMO_DEPARTMENT_MAILBOX]
    )
    tenant.add_user("kacho@city.example.jp", "高橋 課長", user_id=ids["kacho@city.example.jp"])
    tenant.add_user("bucho@city.example.jp", "伊藤 部長", user_id=ids["bucho@city.example.jp"])
    tenant.add_group(
        "カスハラ対応 管理職",
        ["kacho@city.example.jp", "bucho@city.example.jp"],
        group_id=DEMO_MANAGERS_GROUP_ID,
    )
    tenant.add_user(DEMO_OUTSIDE_MAILBOX, "秘書課")
    # Least privilege: the mail roles through Exchange RBAC for Applications, scoped to the
    # opted-in mailboxes; GroupMember.Read.All by Entra consent (it is in the token).
    tenant.add_app(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ROLES, set(DEMO_SCOPE))
    tenant.add_app(DEMO_OVERPRIVILEGED_CLIENT_ID, DEMO_OVERPRIVILEGED_CLIENT_SECRET, DEMO_ROLES)
    now = utcnow()
    for n, (addr, name, subject, body) in enumerate(_NORMAL * 4):
        received = now - dt.timedelta(hours=3 * n + 1)
        for box in (tanaka, dept):
            tenant.deliver(
                box,
                from_address=addr,
                from_name=name,
                subject=subject,
                body=body,
                received=received,
            )
    mail_bomb(
        tenant,
        tanaka,
        sender=DEMO_ABUSER,
        sender_name="九条",
        count=flood,
        span=dt.timedelta(days=3),
        end=now,
    )
    mail_bomb(
        tenant,
        dept,
        sender=DEMO_ABUSER,
        sender_name="九条",
        count=40,
        span=dt.timedelta(days=3),
        end=now,
    )
