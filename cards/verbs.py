"""Every Action.Execute verb Mamoru's cards use, in one enum shared with the bot's routes.

A card may only carry verbs listed here; the bot answers any other verb with a
clear "this button is no longer supported" card instead of an error.
"""

from __future__ import annotations

from enum import StrEnum


class Verb(StrEnum):
    """Verbs of Action.Execute buttons (the ``verb`` field)."""

    SHOW_MENU = "menu.show"
    SHOW_PLAYBOOK = "playbook.show"
    SHOW_SCRIPTS = "playbook.scripts"
    SHOW_SCRIPT = "playbook.script"
    TALK_TO_MANAGER = "manager.talk"
    REPORT_OPEN = "incident.report.open"
    REPORT_SUBMIT = "incident.report.submit"
    MY_INCIDENTS = "incident.mine"
    ESCALATION_REFRESH = "escalation.refresh"
    ESCALATION_APPROVE = "escalation.approve"
    ESCALATION_REJECT = "escalation.reject"
