"""Sample cards of issue 15 (flood watch, linked cases, figures) for the schema tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from bot.domain.access import Access
from bot.domain.figures import org_figures
from bot.domain.flood import FloodFigures
from bot.domain.incidents import Counterparts, IncidentDraft, IncidentType, Person, open_incident
from bot.domain.linking import LinkedCases
from bot.domain.locale import Locale
from bot.domain.org_cases import (
    Membership,
    MergedInto,
    MergePlan,
    OrgCase,
    OrgCaseView,
    OrgMergePlan,
    OrgTotals,
)
from cards.elements import card
from cards.figures import figures_card
from cards.flood import flood_alert_card, flood_notice_card
from cards.linking import linked_elements
from cards.org_cases import merge_confirm_card, org_case_card, org_merge_confirm_card

FIGURES = FloodFigures(
    sender="kujou@example.net",
    last_hour=50,
    last_day=50,
    same_subject=10,
    first_at=dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC),
    last_at=dt.datetime(2026, 12, 2, 1, 30, tzinfo=dt.UTC),
    rules=("per_hour", "per_day", "same_subject"),
)


def issue15_cards(locale: Locale) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each card kind of issue 15 in ``locale``."""
    for managers in (False, True):
        yield (
            f"flood-alert-{managers}-{locale}",
            flood_alert_card(
                "tanaka@city.example.jp", FIGURES, locale, alert_id="abc", for_managers=managers
            ),
        )
    for key in ("flood.dismissed", "flood.not_yours", "flood.stopped.scope"):
        yield f"{key}-{locale}", flood_notice_card(key, locale, "tanaka@city.example.jp", "x@y.z")
    linked = LinkedCases(
        total=3,
        departments=2,
        openable=(("KH-2026-0001", "shimin"), ("KH-2026-0002", "shimin")),
        org_case="ORG-KH-2026-0001",
        org_members=2,
        can_merge=True,
    )
    yield f"linked-{locale}", card(linked_elements("KH-2026-0003", linked, locale))
    figures = org_figures(
        [],
        start=dt.date(2026, 4, 1),
        end=dt.date(2027, 3, 31),
        today=dt.date(2027, 4, 1),
        tasks={},
        mails={},
        protected_at={},
    )
    yield f"figures-{locale}", figures_card(figures, locale, departments={"a": "市民相談課"})
    yield from org_case_cards(locale)


def org_case_cards(locale: Locale) -> Iterator[tuple[str, dict[str, Any]]]:
    """The merge confirmation and the organisational case (a viewer seeing two of three)."""
    at = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)
    reporter = Person("oid-tanaka", "田中 花子")
    members = [
        open_incident(
            IncidentDraft(
                IncidentType.MASS_EMAIL,
                reporter,
                "shimin",
                "…",
                counterparts=Counterparts(emails=("angry@example.co.jp",)),
            ),
            incident_id=f"KH-2026-000{n}",
            at=at,
        )
        for n in (1, 2, 3)
    ]
    departments = {"shimin": "市民相談課"}
    plan = MergePlan(
        tuple(members),
        Access.ALLOWED,
        org_id="ORG-KH-2026-0001",
        already=("KH-2026-0001",),
        elsewhere=(("KH-2026-0009", "ORG-KH-2026-0009"),),
        not_yours=1,
    )
    yield f"org-confirm-{locale}", merge_confirm_card("KH-2026-0003", plan, departments, locale)
    org = OrgCase(
        "ORG-KH-2026-0001",
        at,
        Person("oid-kacho", "高橋 課長"),
        tuple(Membership(m.id, at, Person("oid-kacho", "高橋 課長")) for m in members),
    )
    view = OrgCaseView(
        org=org,
        visible=tuple(members[:2]),
        hidden_other_departments=1,
        hidden_same_department=0,
        counterpart=("email:angry@example.co.jp",),
        removable=("KH-2026-0001", "KH-2026-0002"),
        can_export=True,
    )
    totals = OrgTotals(mails=120, sns_posts=3, tasks_open=2, tasks_total=5)
    yield f"org-case-{locale}", org_case_card(view, totals, departments, locale, note="…")
    # Two organisational cases: the confirmation, the one merged into and the emptied one.
    kacho = Person("oid-kacho", "高橋 課長")
    younger = OrgCase(
        "ORG-KH-2026-0003",
        at,
        kacho,
        (Membership(members[2].id, at, kacho),),
    )
    older = OrgCase("ORG-KH-2026-0001", at, kacho, org.memberships[:2])
    plan = OrgMergePlan(older, younger, tuple(members), Access.ALLOWED)
    yield f"org-merge-orgs-{locale}", org_merge_confirm_card(plan, departments, locale)
    offered = OrgCaseView(
        older,
        tuple(members[:2]),
        0,
        0,
        ("email:angry@example.co.jp",),
        (),
        False,
        mergeable=(younger.id,),
    )
    yield f"org-case-mergeable-{locale}", org_case_card(offered, totals, departments, locale)
    moved = OrgCase(
        younger.id,
        at,
        kacho,
        (Membership(members[2].id, at, kacho, at, kacho),),
        merged_into=MergedInto(older.id, at, kacho, (members[2].id,)),
    )
    emptied = OrgCaseView(moved, (members[2],), 0, 0, (), (), False)
    yield f"org-case-merged-{locale}", org_case_card(emptied, totals, departments, locale)
